import Glibc
import HostSystem
import ImageLayout
import ImageMount

/// Mounts the image's filesystems below its root as its boot would: /etc/fstab read inside the mounted
/// root (symlink-safe), each local block filesystem resolved to a volume of this image (`FilesystemTreePlan`)
/// and mounted at its mount point inside the root, parents first, with its options. Runs between the root
/// and the chroot mounts; an entry that cannot be mounted stops here, before anything is provisioned, unless
/// it is `nofail`.
struct FilesystemTreeMount {
    let session: ChrootSession
    let volumes: ImageVolumes
    let root: RootCandidate
    let options: FilesystemTreeOptions
    let readOnly: Bool
    let device: (Volume) throws -> String

    /// The filesystems mounted (root excluded) and what to tell the user.
    func mount() throws -> (mounted: [MountPlan.ImageFilesystem], messages: [MountMessage]) {
        let plan = try FilesystemTreePlan(volumes: volumes, root: root, options: options,
                                          fstab: { try Self.readFstab(in: session.image) })
        var messages = plan.messages
        func warn(_ text: String) { messages.append(MountMessage(level: .warning, text: text)) }
        for out in plan.leftOut {
            // Mounted at boot in a way we do not reproduce: stop before mounting anything.
            if out.action == .stopsBuild, let reason = out.reason { throw AttachError(reason) }
            Log.debug("\(plan.source ?? "fstab"): left out \(out.title): \(out.reason ?? "")")
        }
        var mounted: [MountPlan.ImageFilesystem] = []
        for planned in plan.entries {
            switch planned.action {
            case .root, .skipped, .leftOut:
                if let reason = planned.reason { warn(reason) }
                continue
            case .stopsBuild:
                throw AttachError(planned.reason ?? planned.title)
            case .nofailWarns:
                warn("nofail: \(planned.reason ?? planned.title); going on without it")
                continue
            case .mount:
                break
            }
            guard let volume = planned.volume, let fstype = planned.fstype else { continue }
            do {
                let node = try device(volume)
                do {
                    try session.mountImageFilesystem(device: node, fstype: fstype, at: planned.mountPoint,
                                                     options: planned.options, readOnly: readOnly)
                } catch let error as SystemError where error.errno == ENODEV {
                    throw AttachError(FilesystemTreePlan.noDriver(planned, volume: volume, fstype: fstype))
                } catch let error as SystemError where error.errno == EROFS && readOnly {
                    // The boot would create the missing directory; a read-only image cannot have it made.
                    throw AttachError("\(planned.title): the image has no directory \(planned.mountPoint) to mount \(volume) "
                        + "on, and it is attached read-only, so none can be made (\(error)); attach it read-write, or add "
                        + "\"\(planned.mountPoint)\" to skip_mounts (shell: --skip-mount \(planned.mountPoint))")
                }
                mounted.append(.init(volume: volume, device: node, target: planned.mountPoint, options: planned.options))
                messages.append(MountMessage(level: .info, text: "mounted \(volume) at \(planned.mountPoint) (\(planned.title))"))
            } catch {
                guard planned.nofail else { throw error }
                warn("nofail: \(error); going on without it")
            }
        }
        return (mounted, messages)
    }

    /// The root's /etc/fstab, resolved inside the image (an absolute symlink stays inside it); nil if absent.
    static func readFstab(in image: RootedPath) throws -> String? {
        let fd: FileDescriptor
        // O_NONBLOCK: a FIFO planted as /etc/fstab must not hang the build in open(2).
        do { fd = try image.open("/etc/fstab", O_RDONLY | O_NONBLOCK) } catch let error as SystemError where error.errno == ENOENT {
            return nil
        }
        defer { try? fd.close() }
        var status = stat()
        try syscall("fstat", path: image.display("/etc/fstab")) { fstat(fd.rawValue, &status) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw AttachError("\(image.display("/etc/fstab")) is not a regular file; set \"fstab_mounts\": false "
                + "or \"image_mounts\" to mount without it")
        }
        var bytes: [UInt8] = []
        while true {
            let chunk = try fd.read(count: 1 << 16)
            if chunk.isEmpty { break }
            bytes += chunk
            guard bytes.count < 1 << 20 else { throw AttachError("\(image.display("/etc/fstab")) is larger than 1 MiB") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
