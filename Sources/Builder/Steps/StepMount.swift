import Glibc
import NBDCore

/// Mounts the root volume at the rendered `mount_path` and the chroot mounts inside it (a
/// `ChrootSession`). Cleanup unmounts everything in reverse, trimming first so freed blocks leave the image.
final class StepMount: Step {
    let name = "mount"

    func run(_ state: BuildState) throws {
        let config = state.config
        guard let volume = state.volume else { throw BuildError("no volume to mount") }
        let context = state.definition.context.with(fields: ["Device": PathName.base(state.rootDevice), "RunID": state.runID])
        state.mountPath = try Interpolation.render(config.mountPath, context)
        state.output.debug("mounting \(state.rootDevice) (\(volume.mountType)) at \(state.mountPath)")
        state.session = try ChrootSession(device: state.rootDevice, fstype: volume.mountType, mountPath: state.mountPath,
                                          mountOptions: config.mountOptions,
                                          chrootMounts: config.chrootMounts ?? ChrootMount.defaults)
    }

    func cleanup(_ state: BuildState) throws {
        try state.session?.unmountAll()
        // The session removes the mount point it made; the per-run directory above it is ours.
        if let marker = state.config.mountPath.firstRange(of: "{{.RunID}}") {
            let prefix = try Interpolation.render(String(state.config.mountPath[..<marker.lowerBound]), state.definition.context)
            rmdir(prefix + state.runID)
        }
    }
}
