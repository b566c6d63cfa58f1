import Synchronization

/// A cancel signal shared by the parts of one run (signal handler, step runner, chroot commands).
/// Handlers registered after cancellation run at once.
public final class Cancellation: Sendable {
    public typealias Handler = @Sendable () -> Void

    private struct State {
        var cancelled = false
        var reason = ""
        var handlers: [Int: Handler] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var isCancelled: Bool { state.withLock { $0.cancelled } }
    public var cancelReason: String { state.withLock { $0.reason } }

    public func cancel(_ why: String = "cancelled") {
        let toRun: [Handler] = state.withLock { state in
            guard !state.cancelled else { return [] }
            state.cancelled = true
            state.reason = why
            defer { state.handlers = [:] }
            return Array(state.handlers.values)
        }
        toRun.forEach { $0() }
    }

    /// Registers `handler`; returns a token for `remove`.
    @discardableResult
    public func onCancel(_ handler: @escaping Handler) -> Int {
        let (id, runNow): (Int, Bool) = state.withLock { state in
            state.nextID += 1
            if state.cancelled { return (state.nextID, true) }
            state.handlers[state.nextID] = handler
            return (state.nextID, false)
        }
        if runNow { handler() }
        return id
    }

    public func remove(_ id: Int) { state.withLock { _ = $0.handlers.removeValue(forKey: id) } }

    /// Sleeps up to `seconds`, waking at once on cancel; returns whether the run was cancelled.
    public func sleep(_ seconds: Double) -> Bool {
        let wakeup = Wakeup()
        let token = onCancel { wakeup.signal() }
        defer { remove(token) }
        wakeup.wait(seconds: seconds)
        return isCancelled
    }
}

public struct CancelledError: Error, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
