/// A cancel signal shared by the parts of one run (signal handler, step runner, chroot commands).
/// Handlers registered after cancellation run at once.
public final class Cancellation: @unchecked Sendable {
    private let lock = Mutex()
    private var cancelled = false
    private var reason = ""
    private var handlers: [Int: () -> Void] = [:]
    private var nextID = 0

    public init() {}

    public var isCancelled: Bool { lock.withLock { cancelled } }
    public var cancelReason: String { lock.withLock { reason } }

    public func cancel(_ why: String = "cancelled") {
        let toRun: [() -> Void] = lock.withLock {
            guard !cancelled else { return [] }
            cancelled = true
            reason = why
            defer { handlers = [:] }
            return Array(handlers.values)
        }
        toRun.forEach { $0() }
    }

    /// Registers `handler`; returns a token for `remove`.
    @discardableResult
    public func onCancel(_ handler: @escaping () -> Void) -> Int {
        let (id, runNow): (Int, Bool) = lock.withLock {
            nextID += 1
            if cancelled { return (nextID, true) }
            handlers[nextID] = handler
            return (nextID, false)
        }
        if runNow { handler() }
        return id
    }

    public func remove(_ id: Int) { lock.withLock { _ = handlers.removeValue(forKey: id) } }
}

public struct CancelledError: Error, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
