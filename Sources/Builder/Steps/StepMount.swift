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
        let mounts = try (config.chrootMounts ?? []).map {
            try ChrootMount(list: [$0.fstype, $0.source, $0.target] + $0.options)
        }
        state.output.debug("mounting \(state.rootDevice) (\(volume.mountType)) at \(state.mountPath)")
        state.session = try ChrootSession(device: state.rootDevice, fstype: volume.mountType, mountPath: state.mountPath,
                                          mountOptions: config.mountOptions,
                                          chrootMounts: config.chrootMounts == nil ? ChrootMount.defaults : mounts)
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

/// `copy_files`: host files put at the same paths in the image for the provisioners (resolv.conf by
/// default); cleanup puts back what the image had there.
final class StepCopyFiles: Step {
    let name = "copy files"
    private var copied: CopiedFiles?

    func run(_ state: BuildState) throws {
        guard let session = state.session, !state.config.copyFiles.isEmpty else { return }
        copied = try session.copyFiles(state.config.copyFiles)
    }

    func cleanup(_ state: BuildState) throws {
        try copied?.undo()
        copied = nil
    }
}

/// Runs the build's provisioners, in template order, through a `ChrootCommunicator`.
final class StepProvision: Step {
    let name = "provision"
    /// Set by the Packer plugin: Packer runs the provisioners through this communicator instead.
    private let external: ((Communicator, BuildState) throws -> Void)?

    init(_ external: ((Communicator, BuildState) throws -> Void)? = nil) { self.external = external }

    func run(_ state: BuildState) throws {
        guard let session = state.session else { throw BuildError("nothing is mounted") }
        let communicator = try ChrootCommunicator(session: session, commandWrapper: state.config.commandWrapper)
        if let external { return try external(communicator, state) }
        let context = ProvisionerContext(communicator: communicator, log: state.output, cancellation: state.cancellation,
                                         template: state.definition.context)
        for provisioner in state.definition.provisioners {
            try ProvisionerRunner.run(provisioner, context)
        }
    }
}

/// Releases the image before it is read for the output: copied files put back, unmounted (with fstrim),
/// detached (flushed). The final cleanup then finds nothing left to do.
final class StepReleaseImage: Step {
    let name = "release image"
    private let holders: [Step]

    init(_ holders: [Step]) { self.holders = holders }

    func run(_ state: BuildState) throws {
        for step in holders { try step.cleanup(state) }
    }
}
