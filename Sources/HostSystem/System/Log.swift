import Glibc
import Synchronization

/// Diagnostics on stderr. `info` lines are for the user; `debug` lines explain decisions (`--debug`).
public enum Log {
    public enum Level: Int, Comparable, Sendable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    private static let threshold = Mutex(Level.info)
    /// Keeps lines whole when threads log at once.
    private static let writing = Mutex(())

    public static var level: Level {
        get { threshold.withLock { $0 } }
        set { threshold.withLock { $0 = newValue } }
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
        writing.withLock { _ in _ = line.withCString { Glibc.write(STDERR_FILENO, $0, strlen($0)) } }
    }
}
