import Synchronization

/// Runs an action once after a delay on its own thread, unless stopped first. The thread waits on a
/// condition with a monotonic deadline, so `stop()` wakes it at once.
package final class Timer: Sendable {
    private let stopped = Wakeup()
    private let worker = Mutex<HostThread?>(nil)

    private init() {}

    package static func after(_ seconds: Double, _ action: @escaping @Sendable () -> Void) throws -> Timer {
        let timer = Timer()
        let thread = try HostThread(name: "timer") {
            if !timer.stopped.wait(seconds: seconds) { action() }
        }
        timer.worker.withLock { $0 = thread }
        return timer
    }

    /// Cancels the action if it has not started and waits for the thread. Idempotent.
    package func stop() {
        stopped.signal()
        worker.withLock { $0 }?.join()
    }
}
