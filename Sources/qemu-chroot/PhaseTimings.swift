import NBDCore

/// Wall-clock time of each phase of a run, for `--timings` and the benchmark.
struct PhaseTimings {
    private(set) var phases: [(name: String, seconds: Double)] = []

    mutating func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let start = Monotonic.now
        defer { phases.append((name, Monotonic.now - start)) }
        return try body()
    }

    /// "probe=0.001 attach=0.120 ... overhead=0.180 total=0.190", overhead being everything but `excluding`.
    func summary(excluding: String) -> String {
        let fields = phases.map { "\($0.name)=\(format($0.seconds))" }
        let total = phases.reduce(0) { $0 + $1.seconds }
        let overhead = phases.filter { $0.name != excluding }.reduce(0) { $0 + $1.seconds }
        return (fields + ["overhead=\(format(overhead))", "total=\(format(total))"]).joined(separator: " ")
    }

    private func format(_ seconds: Double) -> String {
        let millis = Int((seconds * 1000).rounded())
        return "\(millis / 1000).\(String(repeating: "0", count: 3 - String(millis % 1000).count))\(millis % 1000)"
    }
}
