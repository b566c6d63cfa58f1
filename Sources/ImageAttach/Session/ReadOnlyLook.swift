import Glibc
import HostSystem
import ImageMount

/// A filesystem of the image mounted read-only, without journal replay, on a private directory of its own
/// just long enough to look at it: the root rule looks for a root's files this way, `inspect` reads the
/// root's /etc/fstab and tries each filesystem the tree would mount. The directory goes right after.
enum ReadOnlyLook {
    /// Mounts `device` (`fstype`, with `options` plus `ro` and no journal replay), runs `body` on it,
    /// unmounts it and removes the directory, also when `body` throws. Call it in the private mount namespace.
    static func look<T>(device: String, fstype: String, options: [String], _ body: (RootedPath) throws -> T) throws -> T {
        let directory = try PrivateDirectory.make("qemu-chroot-look")
        defer { rmdir(directory) }
        var parsed = MountOptions(options)
        parsed.add("ro")
        // Looking must not write: a dirty journal is left for the real mount to replay.
        switch fstype {
        case "ext3", "ext4": parsed.add("noload")
        case "xfs": parsed.add("norecovery")
        default: break
        }
        let live = try Mount.mount(source: device, fstype: fstype, onHostPath: directory, options: parsed)
        defer { try? Mount.unmount(live.target, flags: 0) }
        return try body(RootedPath(root: directory))
    }
}
