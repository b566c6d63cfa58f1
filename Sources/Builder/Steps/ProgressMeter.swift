import NBDCore

/// The progress of one long phase of a build (writing the output, hashing it): turns "this many bytes
/// of that many" into a rate and an ETA, and hands `BuildOutput` at most a few updates a second.
final class ProgressMeter {
    private let phase: String
    private let total: UInt64
    private let log: BuildLog
    private let start = Monotonic.now
    private var lastShown: Double?
    private var lastDone: UInt64 = 0

    init(_ phase: String, total: UInt64, log: BuildLog) {
        self.phase = phase
        self.total = total
        self.log = log
    }

    /// A terminal redraws often enough to look alive; a machine-readable consumer gets one record a second.
    private var interval: Double { log.output.machineReadable ? 1 : 0.2 }

    func update(done: UInt64) {
        lastDone = min(done, total)
        let now = Monotonic.now
        if let lastShown, now - lastShown < interval { return }
        lastShown = now
        show(now: now)
    }

    func update(fraction: Double) { update(done: UInt64(Double(total) * min(1, max(0, fraction)))) }

    /// The last figure, shown whatever the throttle says, so the final 100% is always seen.
    func finish() { show(now: Monotonic.now) }

    private func show(now: Double) {
        let elapsed = now - start
        let rate = elapsed > 0 ? Double(lastDone) / elapsed : 0
        let percent = total == 0 ? 100 : Int(Double(lastDone) * 100 / Double(total))
        var line = "\(phase) \(percent)%, \(Self.mebibytes(rate)) MiB/s"
        if lastDone < total && rate > 0 { line += ", ETA \(Self.clock((Double(total - lastDone) / rate).rounded(.up)))" }
        log.output.progress(phase, target: log.target, done: lastDone, total: total, line: line)
    }

    static func mebibytes(_ bytesPerSecond: Double) -> String {
        let tenths = Int((bytesPerSecond / 1_048_576 * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// "1:05", "1:02:03".
    static func clock(_ seconds: Double) -> String {
        let whole = Int(min(seconds, 359_999))
        let (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60)
        let two = { (n: Int) in n < 10 ? "0\(n)" : "\(n)" }
        return hours > 0 ? "\(hours):\(two(minutes)):\(two(secs))" : "\(minutes):\(two(secs))"
    }
}
