import Glibc
import NBDCore

/// Runs an action once after a delay on its own thread, unless stopped first.
final class Timer: @unchecked Sendable {
    private let lock = Mutex()
    private var stopped = false
    private var thread = pthread_t()

    static func after(_ seconds: Double, _ action: @escaping () -> Void) throws -> Timer {
        let timer = Timer()
        final class Box { let run: () -> Void; init(_ run: @escaping () -> Void) { self.run = run } }
        let deadline = Monotonic.now + seconds
        let box = Unmanaged.passRetained(Box {
            while Monotonic.now < deadline {
                if timer.lock.withLock({ timer.stopped }) { return }
                usleep(20_000)
            }
            if !timer.lock.withLock({ timer.stopped }) { action() }
        })
        let created = pthread_create(&timer.thread, nil, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        if created != 0 { box.release(); throw SystemError("pthread_create", errno: created) }
        return timer
    }

    func stop() {
        lock.withLock { stopped = true }
        pthread_join(thread, nil)
    }
}
