/// One phase of a build. A step acquires something in `run` and releases it in `cleanup`.
///
/// The runner calls `cleanup` for every step whose `run` was entered, in reverse order, whether the
/// build succeeded, failed or was cancelled; the step that failed is cleaned up too, so `cleanup` must
/// cope with a half-done `run`. `cleanup` is idempotent: a later step may release early what an earlier
/// step holds (unmount and detach before the output is written) and the final cleanup then does nothing.
public protocol Step: AnyObject {
    /// Short, for the per-step line: "attach", "write output".
    var name: String { get }
    func run(_ state: BuildState) throws
    func cleanup(_ state: BuildState) throws
}

extension Step {
    public func cleanup(_ state: BuildState) throws {}
}
