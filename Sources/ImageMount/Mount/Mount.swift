import CNBD
import Glibc
import HostSystem

/// A mount that is live in this namespace, with what its teardown needs to know.
public struct LiveMount: Sendable, CustomStringConvertible {
    /// Canonical host path of the mount point.
    public let target: String
    public let source: String
    public let fstype: String
    public let readOnly: Bool
    /// The image's root filesystem: it is trimmed first and must get a plain umount2 so that its superblock
    /// is written back before the device goes away.
    public let isImageRoot: Bool

    /// Kernel-backed filesystems with no data of their own (and binds): a lazy detach loses nothing.
    public var isPseudo: Bool {
        ["proc", "sysfs", "devpts", "binfmt_misc", "tmpfs", "bind", "devtmpfs", "mqueue", "cgroup2", "securityfs"]
            .contains(fstype)
    }

    public var description: String { "\(fstype) \(source) on \(target)" }
}

/// mount(2) and umount2(2); the only place they are called.
public enum Mount {
    /// Mounts on a trusted host path (the image root's mount point, which we created).
    public static func mount(
        source: String, fstype: String, onHostPath target: String, options: MountOptions, isImageRoot: Bool = false
    ) throws -> LiveMount {
        let fd = try FileDescriptor.open(target, CNBD_O_PATH | O_DIRECTORY)
        return try mount(source: source, fstype: fstype, on: fd, display: target, options: options,
                         isImageRoot: isImageRoot)
    }

    /// Mounts on `target` resolved inside `root` (created there when missing), so that a symlink in the image
    /// cannot redirect the mount onto a host directory. The kernel is handed /proc/self/fd/N of the resolved
    /// directory rather than a path it would resolve again.
    public static func mount(
        source: String, fstype: String, inside root: RootedPath, at target: String, options: MountOptions,
        createTarget: Bool = true
    ) throws -> LiveMount {
        let fd = try resolveTarget(target, inside: root, create: createTarget,
                                   file: options.isBind && !isDirectory(source))
        return try mount(source: source, fstype: fstype, on: fd, display: root.display(target), options: options,
                         isImageRoot: false)
    }

    /// A bind of a single file needs a file as its mount point; everything else a directory.
    private static func resolveTarget(_ target: String, inside root: RootedPath, create: Bool, file: Bool) throws -> FileDescriptor {
        try refuseMisleadingTarget(target, inside: root, file: file)
        guard file else {
            return create ? try root.makeDirectories(target) : try root.open(target, CNBD_O_PATH | O_DIRECTORY)
        }
        if create {
            try root.makeDirectories(RootedPath.components(target).dropLast().joined(separator: "/"))
            try root.open(target, O_WRONLY | O_CREAT, mode: 0o644).close()
        }
        return try root.open(target, CNBD_O_PATH)
    }

    /// The image decides what its mount targets are. A symlink there (/proc -> /) resolves inside the image
    /// to another directory, so the mount would silently land on that one (proc over the image's root); a
    /// FIFO, file or device cannot take a directory mount. Both stop the run with a sentence naming the entry.
    /// A single-file bind may follow a symlink: /etc/resolv.conf -> ../run/... is the usual layout, and the
    /// bind then shows through it as meant.
    private static func refuseMisleadingTarget(_ target: String, inside root: RootedPath, file: Bool) throws {
        guard !file, !RootedPath.components(target).isEmpty, let (directory, name) = try? root.parent(of: target) else { return }
        var info = stat()
        guard fstatat(directory.rawValue, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        let kind = info.st_mode & S_IFMT
        let fix = "make it a directory in the image, or leave \(target) out (chroot_mounts; skip_mounts for an fstab entry)"
        if kind == S_IFLNK {
            let destination = (try? DirectoryEntries.readLink(directory.rawValue, name)).map { " to \($0)" } ?? ""
            throw SystemError("mount", path: root.display(target), errno: ELOOP,
                              hint: "\(target) is a symlink\(destination) in the image, so the mount would land elsewhere; \(fix)")
        }
        if kind != S_IFDIR {
            throw SystemError("mount", path: root.display(target), errno: ENOTDIR,
                              hint: "\(target) is not a directory in the image (it is \(describe(kind))); \(fix)")
        }
    }

    private static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFREG: return "a regular file"
        default: return "not a directory"
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) != 0 || info.st_mode & S_IFMT == S_IFDIR
    }

    private static func mount(
        source: String, fstype: String, on target: FileDescriptor, display: String, options: MountOptions,
        isImageRoot: Bool
    ) throws -> LiveMount {
        let hostPath = try RootedPath.hostPath(of: target)
        let magic = "/proc/self/fd/\(target.rawValue)"
        let kind = options.isBind ? "bind" : fstype
        let data = options.dataString
        do {
            try syscall("mount(\(kind) \(source))", path: display) {
                Glibc.mount(source, magic, options.isBind ? nil : fstype, options.flags, data)
            }
        } catch {
            guard error.errno == EINVAL && !options.isBind else { throw error }
            let hint = "the kernel rejected the \(fstype) filesystem on \(source) or its options"
                + (data.map { " (\($0))" } ?? "") + "; `dmesg` says why"
            throw error.withHint(hint)
        }
        let live = LiveMount(target: hostPath, source: source, fstype: kind, readOnly: options.readOnly,
                             isImageRoot: isImageRoot)
        // A bind ignores every flag but MS_REC; ro, nosuid, ... need a remount of the new mount.
        if options.isBind && options.bindRemountFlags != 0 {
            do {
                try syscall("mount(remount,bind)", path: display) {
                    Glibc.mount(nil, hostPath, nil, UInt(MS_REMOUNT | MS_BIND) | options.bindRemountFlags, nil)
                }
            } catch {
                try? unmount(hostPath, flags: 0)
                throw error
            }
        }
        Log.debug("mounted \(live.description)\(data.map { " (\($0))" } ?? "")")
        return live
    }

    /// umount2 with UMOUNT_NOFOLLOW added: the mount point itself is never followed as a symlink.
    public static func unmount(_ target: String, flags: Int32) throws(SystemError) {
        try syscall("umount2", path: target) { umount2(target, flags | Int32(UMOUNT_NOFOLLOW)) }
    }
}
