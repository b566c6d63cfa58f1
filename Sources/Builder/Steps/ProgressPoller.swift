import HostSystem
import Synchronization

/// Progress for a program that reports none we can read (curl writing a file, a decompressor reading
/// one): `sample` says how far it is, a few times a second on a thread of its own, until `finish`.
/// The thread exists because the caller is blocked waiting for the program.
final class ProgressPoller: Sendable {
    /// Both the thread and `finish` reach the meter; `finish` only after the thread has ended.
    private final class Shared: Sendable {
        let meter: Mutex<ProgressMeter>
        let stopped = Wakeup()
        init(_ meter: consuming sending ProgressMeter) { self.meter = Mutex(meter) }
    }

    /// What `sample` reports: bytes done, and the total (0 while unknown).
    typealias Sample = @Sendable () -> (done: UInt64, total: UInt64)

    private let shared: Shared
    private let sample: Sample
    private let thread: HostThread

    init(_ phase: String, log: BuildLog, sample: @escaping Sample) throws {
        let shared = Shared(ProgressMeter(phase, total: 0, log: log))
        let interval = log.output.machineReadable ? 1.0 : 0.2
        self.shared = shared
        self.sample = sample
        thread = try HostThread(name: "progress") {
            while !shared.stopped.wait(seconds: interval) {
                let now = sample()
                shared.meter.withLock { $0.update(done: now.done, total: now.total) }
            }
        }
    }

    /// Stops sampling and shows the last figure (once the program ended: 100%). Call it once, also
    /// when the program failed, so the thread ends.
    func finish(showing: Bool = true) {
        shared.stopped.signal()
        _ = thread.join()
        guard showing else { return }
        let now = sample()
        shared.meter.withLock { meter in
            meter.update(done: now.done, total: now.total)
            meter.finish()
        }
    }
}
