import NBDCore
/// `disk_size`: after mounting, grows the root filesystem online to fill its grown partition.
final class StepGrowFilesystem: Step {
    let name = "grow filesystem"

    func run(_ state: BuildState) throws {
        guard let volume = state.volume else { return }
        let done = try FilesystemGrowth.grow(mountPath: state.mountPath, fstype: volume.mountType, to: volume.size)
        state.output.debug("disk_size: \(done)")
    }
}
