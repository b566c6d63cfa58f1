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
