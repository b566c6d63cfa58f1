import Glibc
import NBDCore

/// Mounts the planned root volume at the rendered `mount_path`, the filesystems its /etc/fstab lists (or
/// `image_mounts`) below it, and the chroot mounts inside it. Cleanup
/// unmounts everything in reverse, trimming first so freed blocks leave the image.
final class StepMount: Step {
    let name = "mount"

    func run(_ state: BuildState) throws {
        guard let image = state.image, let root = image.root else { throw BuildError("no volume to mount") }
        let context = state.definition.context.with(fields: ["Device": PathName.base(state.device), "RunID": state.runID])
        let mountPath = try Interpolation.render(state.config.mountPath, context)
        state.output.debug("mounting \(root.device) (\(root.fstype)) at \(mountPath)")
        let session = try image.mount(at: mountPath, qemuBinary: state.config.qemuBinary, hostBinfmt: state.config.hostBinfmt)
        if let emulation = session.emulation { state.output.debug("\(emulation)") }
        for message in image.mountMessages {
            switch message.level {
            case .warning: state.output.message("warning: \(message.text)")
            case .info: state.output.message(message.text)
            }
        }
    }

    func cleanup(_ state: BuildState) throws {
        try state.image?.unmount()
        // The session removes the mount point it made; the per-run directory above it is ours.
        if let marker = state.config.mountPath.firstRange(of: "{{.RunID}}") {
            let prefix = try Interpolation.render(String(state.config.mountPath[..<marker.lowerBound]), state.definition.context)
            rmdir(prefix + state.runID)
        }
    }
}
