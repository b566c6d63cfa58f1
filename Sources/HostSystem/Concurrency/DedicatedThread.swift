import Glibc

/// A pthread for one blocking call (NBD_DO_IT blocks until the device disconnects), joined by its owner.
package final class DedicatedThread {
    private var thread: pthread_t?
    private let finished = Mutex()
    private var result: Error??

    package init(name: String, _ body: @escaping () throws -> Void) throws {
        let box = Unmanaged.passRetained(Box { [unowned self] in
            var outcome: Error? = nil
            do { try body() } catch { outcome = error }
            finished.withLock { result = .some(outcome) }
        })
        var handle = pthread_t()
        let status = pthread_create(&handle, nil, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            box.run()
            return nil
        }, box.toOpaque())
        guard status == 0 else {
            box.release()
            throw SystemError("pthread_create", path: name, errno: status)
        }
        thread = handle
    }

    /// Whether the body has returned (without joining).
    package var hasFinished: Bool { finished.withLock { result != nil } }

    /// Waits for the body to return; returns its error, if any. Idempotent.
    @discardableResult
    package func join() -> Error? {
        if let handle = thread {
            thread = nil
            pthread_join(handle, nil)
        }
        return finished.withLock { result ?? nil }
    }

    private final class Box {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
}
