import Synchronization

/// Teardown as data: named undo steps that run last-added first. Every step runs even when one fails;
/// each failure is logged and the first one is rethrown. A step is taken off the list before it runs, so
/// running again (an early cleanup, then the final one; an explicit release, then a signal handler) only
/// runs what was added since.
package final class Teardown: Sendable {
    package typealias Step = @Sendable () throws -> Void
    private let steps = Mutex<[(name: String, run: Step)]>([])

    package init() {}

    /// Adds a step; it will run before every step added earlier.
    package func add(_ name: String, _ step: @escaping Step) { steps.withLock { $0.append((name, step)) } }

    package var isEmpty: Bool { steps.withLock { $0.isEmpty } }

    /// Runs the pending steps, newest first; throws the first failure after all have run.
    package func run() throws {
        var errors = Teardown.Errors()
        while let step = steps.withLock({ $0.popLast() }) { errors.attempt(step.name, step.run) }
        try errors.rethrow()
    }

    /// The loop body every teardown shares, for steps written in line in their order:
    /// `var errors = Teardown.Errors(); errors.attempt("close") { try fd.close() }; try errors.rethrow()`.
    package struct Errors {
        package private(set) var first: Error?

        package init() {}

        /// Runs `step`; a failure is logged and kept if it is the first.
        package mutating func attempt(_ name: String, _ step: () throws -> Void) {
            do { try step() } catch { record(error, in: name) }
        }

        /// Keeps `error` if it is the first; logs it either way.
        package mutating func record(_ error: Error, in name: String) {
            Log.debug("teardown: \(name) failed: \(error)")
            if first == nil { first = error }
        }

        package func rethrow() throws {
            if let first { throw first }
        }
    }
}
