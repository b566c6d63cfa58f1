import NBDCore

/// A step failed: which one and why; the build's error.
public struct StepFailed: Error, CustomStringConvertible {
    public let step: String
    public let underlying: Error
    public var description: String { "\(step) failed: \(underlying)" }
}

/// Runs steps in order (multistep's basic runner, typed): stops at the first failure or at cancellation,
/// then cleans up every step that ran, in reverse, the failed one included. Every cleanup runs even when
/// one fails; the build's first error is what `run` throws.
public enum StepRunner {
    public static func run(_ steps: [Step], state: BuildState) throws {
        var started: [Step] = []
        var errors = Teardown.Errors()
        for step in steps {
            if state.cancellation.isCancelled {
                errors.record(StepFailed(step: step.name, underlying: CancelledError(state.cancellation.cancelReason)), in: step.name)
                break
            }
            started.append(step)
            let begin = Monotonic.now
            do {
                try step.run(state)
                // A provisioner can exit 0 with its writes in the page cache of a device whose server is gone.
                if let failure = state.image?.attached.serverFailure { throw ImageServerDied(failure: failure, stepError: nil) }
                state.record(step.name, seconds: Monotonic.now - begin)
            } catch {
                let seconds = Monotonic.now - begin
                // A step interrupted by a cancel reports the cancel, not the EINTR or killed child it caused; one
                // whose image server died reports that, not the I/O errors it caused.
                let died = error is ImageServerDied ? nil : state.image?.attached.serverFailure
                let cause: Error = state.cancellation.isCancelled ? CancelledError(state.cancellation.cancelReason)
                    : died.map { ImageServerDied(failure: $0, stepError: error) } ?? error
                state.output.say("\(step.name) failed after \(Duration.format(seconds)): \(cause)")
                errors.record(StepFailed(step: step.name, underlying: cause), in: step.name)
                break
            }
        }
        for step in started.reversed() {
            errors.attempt("cleanup of \(step.name)") {
                do { try step.cleanup(state) } catch {
                    state.output.error("cleanup of \(step.name): \(error)")
                    throw StepFailed(step: "cleanup of \(step.name)", underlying: error)
                }
            }
        }
        try errors.rethrow()
    }
}

/// The process serving the attached image ended during a step: the step's own error (if any) is a
/// consequence, quoted after the cause.
public struct ImageServerDied: Error, CustomStringConvertible {
    public let failure: String
    public let stepError: Error?
    public var description: String {
        failure + (stepError.map { "; the step then failed with: \($0)" } ?? "; the step's writes are lost")
    }
}

enum Duration {
    static func format(_ seconds: Double) -> String {
        let hundredths = Int((seconds * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)s"
    }
}
