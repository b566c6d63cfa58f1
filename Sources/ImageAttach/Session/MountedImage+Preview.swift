import Glibc
import HostSystem
import ImageLayout
import ImageMount

extension MountedImage {
    /// The filesystem tree `mount` would mount below the planned root, without mounting it (`inspect`): the
    /// root is mounted read-only on a private directory just long enough to read its /etc/fstab, and each
    /// filesystem to be mounted is tried the same way, so one this kernel cannot mount (no driver) shows as
    /// the build would stop on it. Nothing is written and nothing stays mounted. Call it after `planMounts`,
    /// in the private mount namespace.
    public func previewTree() throws -> FilesystemTreePlan {
        try preview().tree
    }

    /// `previewTree`, and the root's architecture as build and shell read it (`ImageArchitecture.detect`:
    /// the ELF header of /bin/sh, else /sbin/init), from the one read-only mount of the root. A /bin/sh that
    /// points into a separate /usr cannot be followed here and says so in the evidence.
    public func preview() throws -> (tree: FilesystemTreePlan, architecture: ImageArchitecture) {
        guard let plan, let volumes else { throw AttachError("cannot show the filesystem tree: no mount plan yet (call planMounts first)") }
        let root = plan.root
        let looked = try ReadOnlyLook.look(device: root.device, fstype: root.fstype, options: root.options) { image in
            (try FilesystemTreePlan(volumes: volumes, root: plan.rootChoice.candidate, options: plan.tree,
                                    fstab: { try FilesystemTreeMount.readFstab(in: image) }),
             ImageArchitecture.detect(in: image))
        }
        var tree = looked.0
        for index in tree.entries.indices where tree.entries[index].action == .mount {
            let entry = tree.entries[index]
            guard let volume = entry.volume, let fstype = entry.fstype else { continue }
            do {
                try ReadOnlyLook.look(device: try blockDevice(for: volume), fstype: fstype, options: entry.options) { _ in }
            } catch let error as SystemError where error.errno == ENODEV {
                tree.entries[index].fail(FilesystemTreePlan.noDriver(entry, volume: volume, fstype: fstype))
            } catch {
                tree.entries[index].fail("\(entry.title): \(volume) could not be mounted read-only to check it (\(error))")
            }
        }
        return (tree, looked.1)
    }
}
