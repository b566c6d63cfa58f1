import Glibc

/// Diagnostics on stderr. `info` lines are for the user; `debug` lines explain decisions (`--debug`).
public enum Log {
    public enum Level: Int, Comparable, Sendable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    private static let lock = Mutex()
    nonisolated(unsafe) private static var threshold: Level = .info

    public static var level: Level {
        get { lock.withLock { threshold } }
        set { lock.withLock { threshold = newValue } }
    }

    public static func debug(_ message: @autoclosure () -> String) { emit(.debug, message) }
    public static func info(_ message: @autoclosure () -> String) { emit(.info, message) }
    public static func warning(_ message: @autoclosure () -> String) { emit(.warning, message) }
    public static func error(_ message: @autoclosure () -> String) { emit(.error, message) }

    private static func emit(_ level: Level, _ message: () -> String) {
        guard level >= self.level else { return }
        let prefix: String
        switch level {
        case .debug: prefix = "debug: "
        case .info: prefix = ""
        case .warning: prefix = "warning: "
        case .error: prefix = "error: "
        }
        let line = "qemu-chroot: \(prefix)\(message())\n"
        lock.withLock { _ = line.withCString { fputs($0, stderr) } }
    }
}
