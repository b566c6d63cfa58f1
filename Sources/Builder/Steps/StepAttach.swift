import NBDCore

/// Attaches the overlay read-write, grows the partition table when `disk_size` asks for it, and plans the
/// root volume (`mount_partition`, or the root rule, which looks inside candidates read-only) and its block
/// device, saying what it chose and why. Cleanup releases the
/// image: unmounts whatever is still mounted, flushes and detaches.
final class StepAttach: Step {
    let name = "attach"

    func run(_ state: BuildState) throws {
        let config = state.config
        guard let mode = AttachMode(rawValue: config.attach) else { throw BuildError("unknown attach mode \(config.attach)") }
        var request = AttachRequest(image: state.overlayPath, format: state.overlayFormat, readOnly: false, mode: mode,
                                    devicePath: config.devicePath)
        request.scratch = state.overlayIsScratch
        let image = try MountedImage(attaching: request, ledger: state.ledger)
        state.image = image
        state.attachedSize = image.attached.disk.size
        state.output.debug("attached with \(image.attached.mode.rawValue)")
        try image.readLayout()
        if config.diskSize != nil {
            let writes = try image.partitionTableGrowth()
            if !writes.isEmpty {
                state.output.debug("disk_size: rewriting the partition table for \(image.attached.disk.size) bytes (\(writes.count) writes)")
                try image.rewritePartitionTable(writes)
            }
        }
        image.layout?.warnings.forEach { state.output.message("warning: \($0)") }
        let plan = try image.planMounts(mountPartition: config.mountPartition, rootOptions: config.mountOptions,
                                        tree: config.filesystemTree,
                                        chrootMounts: config.chrootMounts, isolation: config.isolation)
        state.output.message(plan.rootChoice.explanation)
    }

    func cleanup(_ state: BuildState) throws {
        try state.image?.release()
    }
}
