import Glibc
import Synchronization

/// The one place that starts threads. Blocking work runs on a dedicated pthread, never on Swift
/// concurrency's cooperative pool: NBD_DO_IT blocks until the device disconnects, the plugin protocol's
/// reader loops block in read(2), and a per-thread mount namespace must stay on its thread. The pool has
/// one thread per core, so any of these would starve every task.
package final class HostThread: Sendable {
    /// The pthread until it is joined.
    private let handle = Mutex<pthread_t?>(nil)
    private let outcome: Outcome

    /// Starts `body` on a new joinable thread; `join()` returns the error it threw.
    package init(name: String, _ body: @escaping @Sendable () throws -> Void) throws {
        let outcome = Outcome()
        self.outcome = outcome
        let thread = try Self.start(name: name) {
            var failure: Error? = nil
            do { try body() } catch { failure = error }
            outcome.value.withLock { $0 = .some(failure) }
        }
        handle.withLock { $0 = thread }
    }

    /// Runs `body` on a detached thread nobody joins (reader loops, per-request handlers). If no thread can
    /// be started it runs inline rather than dropping the work.
    package static func detach(_ body: @escaping @Sendable () -> Void) {
        do { try startDetached(name: "detached thread", body) } catch { body() }
    }

    /// Runs `body` on a detached thread, or throws if none can be started (for bodies that never return).
    package static func startDetached(name: String, _ body: @escaping @Sendable () -> Void) throws {
        pthread_detach(try start(name: name, body))
    }

    /// Runs `body` on a new thread and waits for it, for work that needs a thread of its own (one that enters
    /// a private mount namespace) while the caller blocks.
    package static func run<T>(name: String, _ body: () throws -> T) throws -> T {
        try withoutActuallyEscaping(body) { body in
            let call = BlockingCall(body)
            let thread = try HostThread(name: name) { call.run() }
            thread.join()
            return try call.result!.get()
        }
    }

    /// Whether the body has returned (without joining).
    package var hasFinished: Bool { outcome.value.withLock { $0 != nil } }

    /// Waits up to `seconds` for the body to return, without joining; false if it still runs then (the
    /// thread is left alone, and `join()` still works later).
    package func waitUntilFinished(seconds: Double) -> Bool {
        Poll.until(seconds: seconds) { hasFinished }
    }

    /// Waits for the body to return; returns its error, if any. Idempotent, and safe from several threads
    /// (the others wait on the lock while the first joins).
    @discardableResult
    package func join() -> Error? {
        handle.withLock { thread in
            if let joinable = thread {
                pthread_join(joinable, nil)
                thread = nil
            }
        }
        return outcome.value.withLock { $0 ?? nil }
    }

    private final class Outcome: Sendable {
        /// nil while running; .some(error or nil) once the body returned.
        let value = Mutex<Error??>(nil)
    }

    // @unchecked: `body` and `result` are not Sendable, but only the started thread touches them until
    // `run` has joined it, and only `run` after that; the join orders the two.
    private final class BlockingCall<T>: @unchecked Sendable {
        let body: () throws -> T
        var result: Result<T, Error>?
        init(_ body: @escaping () throws -> T) { self.body = body }
        func run() { result = Result { try body() } }
    }

    private final class Start {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    private static func start(name: String, _ body: @escaping @Sendable () -> Void) throws -> pthread_t {
        let start = Unmanaged.passRetained(Start(body))
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
            start.body()
            return nil
        }, start.toOpaque())
        guard status == 0 else {
            start.release()
            throw SystemError("pthread_create", path: name, errno: status)
        }
        return thread
    }
}

extension HostThread {
    /// Sleeps the calling thread; nanosleep resumes after signals so the whole time passes.
    package static func sleep(_ seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
