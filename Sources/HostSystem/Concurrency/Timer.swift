import Glibc

/// Runs an action once after a delay on its own thread, unless stopped first.
package final class Timer: @unchecked Sendable {
    private let lock = Mutex()
    private var stopped = false
    private var worker: WorkerThread?

    package static func after(_ seconds: Double, _ action: @escaping () -> Void) throws -> Timer {
        let timer = Timer()
        let deadline = Monotonic.now + seconds
        timer.worker = try WorkerThread {
            while Monotonic.now < deadline {
                if timer.isStopped { return }
                usleep(20_000)
            }
            if !timer.isStopped { action() }
        }
        return timer
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    package func stop() {
        lock.withLock { stopped = true }
        worker?.join()
    }
}
