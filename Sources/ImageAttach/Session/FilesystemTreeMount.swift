import Glibc
import HostSystem
import ImageLayout
import ImageMount

/// Mounts the image's filesystems below its root as its boot would: /etc/fstab read inside the mounted
/// root (symlink-safe), each local block filesystem resolved to a volume of this image and mounted at its
/// mount point inside the root, parents first, with its options. Runs between the root and the chroot
/// mounts; an entry that cannot be mounted stops here, before anything is provisioned, unless it is `nofail`.
struct FilesystemTreeMount {
    let session: ChrootSession
    let volumes: ImageVolumes
    let root: RootCandidate
    let options: FilesystemTreeOptions
    let readOnly: Bool
    let device: (Volume) throws -> String

    /// The filesystems mounted (root excluded) and what to tell the user.
    func mount() throws -> (mounted: [MountPlan.ImageFilesystem], messages: [MountMessage]) {
        var messages: [MountMessage] = []
        func warn(_ text: String) { messages.append(MountMessage(level: .warning, text: text)) }
        func info(_ text: String) { messages.append(MountMessage(level: .info, text: text)) }
        guard let (plan, source) = try options.table(fstab: readFstab) else {
            if options.fstabMounts { info("the root has no /etc/fstab: mounting the root only") }
            return ([], messages)
        }
        plan.problems.forEach { warn("\(source): \($0) (ignored, as the boot would)") }
        for out in plan.leftOut {
            if out.kind == .unsupported && !options.skips(out.entry.mountPoint) {
                throw AttachError("\(out.reason) (\(out.entry.title)); add \"\(out.entry.mountPoint)\" to skip_mounts to leave it out")
            }
            Log.debug("\(source): left out \(out.entry.title): \(out.reason)")
        }
        let rootVolume = volumes.volumes.first { volumes.mountable($0)?.number == root.volume.number }
        var mounted: [MountPlan.ImageFilesystem] = []
        for planned in plan.mounts {
            let title = planned.entry.title
            if planned.isRoot {
                checkRootEntry(planned, rootVolume: rootVolume, warn: warn)
                continue
            }
            if options.skips(planned.mountPoint) {
                warn("skip_mounts: \(planned.mountPoint) is not mounted (\(title)); files written there land in the "
                    + "directory underneath (of the root, or of the filesystem mounted above it), which that filesystem "
                    + "hides at boot")
                continue
            }
            do {
                let resolved = try volumes.resolve(planned, root: rootVolume).get()
                guard let volume = volumes.mountable(resolved.volume) else {
                    throw AttachError("\(title): \(resolved.volume) cannot be mounted")
                }
                let node = try device(volume)
                do {
                    try session.mountImageFilesystem(device: node, fstype: resolved.mountType, at: planned.mountPoint,
                                                     options: planned.mountOptions, readOnly: readOnly)
                } catch let error as SystemError where error.errno == ENODEV {
                    let known = HostFilesystems.supports(resolved.mountType) ? "" : " (/proc/filesystems does not list it)"
                    throw AttachError("\(title): this kernel has no \(resolved.mountType) driver\(known), so \(resolved.volume) "
                        + "cannot be mounted at \(planned.mountPoint); add \"\(planned.mountPoint)\" to skip_mounts "
                        + "(shell: --skip-mount \(planned.mountPoint)) to leave it out, knowing that writes there are hidden at boot")
                } catch let error as SystemError where error.errno == EROFS && readOnly {
                    // The boot would create the missing directory; a read-only image cannot have it made.
                    throw AttachError("\(title): the image has no directory \(planned.mountPoint) to mount \(resolved.volume) "
                        + "on, and it is attached read-only, so none can be made (\(error)); attach it read-write, or add "
                        + "\"\(planned.mountPoint)\" to skip_mounts (shell: --skip-mount \(planned.mountPoint))")
                }
                mounted.append(.init(volume: volume, device: node, target: planned.mountPoint, options: planned.mountOptions))
                info("mounted \(resolved.volume) at \(planned.mountPoint) (\(title))")
            } catch {
                let message = error is DeviceResolutionError
                    ? "\(error); add \"\(planned.mountPoint)\" to skip_mounts to leave it out" : "\(error)"
                guard planned.nofail else { throw AttachError(message) }
                warn("nofail: \(message); going on without it")
            }
        }
        return (mounted, messages)
    }

    /// The root is already mounted; fstab's own root entry only confirms (or questions) the choice.
    private func checkRootEntry(_ planned: PlannedMount, rootVolume: ImageVolume?, warn: (String) -> Void) {
        guard case .success(let named) = volumes.resolve(planned.entry.spec, entry: planned.entry, root: rootVolume) else { return }
        if let rootVolume, named != rootVolume {
            warn("\(planned.entry.title) names \(named) as root, but \(root) is mounted as root")
        } else if let subvolume = planned.subvolume, root.subvolume.map(normalize) != normalize(subvolume) {
            warn("\(planned.entry.title) mounts subvolume \(subvolume) as root, but \(root) is mounted as root")
        }
    }

    private func normalize(_ subvolume: String) -> String { subvolume.split(separator: "/").joined(separator: "/") }

    /// The root's /etc/fstab, resolved inside the image (an absolute symlink stays inside it); nil if absent.
    private func readFstab() throws -> String? {
        let fd: FileDescriptor
        // O_NONBLOCK: a FIFO planted as /etc/fstab must not hang the build in open(2).
        do { fd = try session.image.open("/etc/fstab", O_RDONLY | O_NONBLOCK) } catch let error as SystemError where error.errno == ENOENT {
            return nil
        }
        defer { try? fd.close() }
        var status = stat()
        try syscall("fstat", path: session.image.display("/etc/fstab")) { fstat(fd.rawValue, &status) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw AttachError("\(session.image.display("/etc/fstab")) is not a regular file; set \"fstab_mounts\": false "
                + "or \"image_mounts\" to mount without it")
        }
        var bytes: [UInt8] = []
        while true {
            let chunk = try fd.read(count: 1 << 16)
            if chunk.isEmpty { break }
            bytes += chunk
            guard bytes.count < 1 << 20 else { throw AttachError("\(session.image.display("/etc/fstab")) is larger than 1 MiB") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
