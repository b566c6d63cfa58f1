import NBDCore
/// `disk_size`: after mounting, grows the root filesystem online to fill its grown partition.
final class StepGrowFilesystem: Step {
    let name = "grow filesystem"

    func run(_ state: BuildState) throws {
        guard let image = state.image else { return }
        state.output.debug("disk_size: \(try image.growRootFilesystem())")
    }
}
