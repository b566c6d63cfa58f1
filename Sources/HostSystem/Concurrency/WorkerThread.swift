import Glibc

/// A thread running one closure; `join()` waits for it (idempotent). Used for Packer's asynchronous
/// Start, provisioner timeouts and builds that run side by side.
package final class WorkerThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let lock = Mutex()
    private var joined = false

    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    package init(_ body: @escaping () -> Void) throws {
        let box = Unmanaged.passRetained(Body(body))
        let created = pthread_create(&thread, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        if created != 0 {
            box.release()
            throw SystemError("pthread_create", errno: created)
        }
    }

    package func join() {
        lock.withLock {
            if !joined { pthread_join(thread, nil); joined = true }
        }
    }
}
