import Synchronization

/// A one-shot signal a thread can wait for with a deadline: a timer's stop, a cancel interrupting a sleep.
package final class Wakeup: Sendable {
    private let monitor = Monitor()
    /// Changed with `monitor` held too, so a signal cannot slip between the check and the wait.
    private let signalled = Mutex(false)

    package init() {}

    package var isSignalled: Bool { signalled.withLock { $0 } }

    package func signal() {
        monitor.withLock {
            signalled.withLock { $0 = true }
            monitor.broadcast()
        }
    }

    /// Waits until signalled or `seconds` passed; returns whether it was signalled.
    @discardableResult
    package func wait(seconds: Double) -> Bool {
        let deadline = Monitor.deadline(after: seconds)
        return monitor.withLock {
            while !isSignalled {
                if !monitor.wait(until: deadline) { return isSignalled }
            }
            return true
        }
    }
}
