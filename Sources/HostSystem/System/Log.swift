import Logging
import Synchronization

/// The libraries' diagnostics: `info` lines are for the user; `debug` lines explain decisions (`--debug`).
///
/// Every `Log.debug/info/warning/error` call goes to `Log.logger`, a swift-log `Logger`. That is the seam
/// for embedders: replace it to route the lines into your own logging, e.g. after your
/// `LoggingSystem.bootstrap(...)`:
///
/// ```swift
/// Log.logger = Logger(label: "com.example.image-service")   // your bootstrapped handler
/// Log.logger.logLevel = .debug                              // or set Log.level
/// ```
///
/// Untouched, it writes what the `qemu-chroot` CLI prints, one line per message on stderr
/// (`qemu-chroot: warning: …`, see `QemuChrootLogHandler`) at level info, so a library caller that sets
/// nothing up sees the same lines as the CLI. The handler is not taken from `LoggingSystem`, because an
/// embedder that never configures logging would otherwise get swift-log's default format instead.
public enum Log {
    public enum Level: Int, Comparable, Sendable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }

        var swiftLog: Logger.Level {
            switch self {
            case .debug: return .debug
            case .info: return .info
            case .warning: return .warning
            case .error: return .error
            }
        }

        init(_ level: Logger.Level) {
            switch level {
            case .trace, .debug: self = .debug
            case .info, .notice: self = .info
            case .warning: self = .warning
            case .error, .critical: self = .error
            }
        }
    }

    private static let current = Synchronization.Mutex(QemuChrootLogHandler.logger())

    /// Where every library message goes. Setting it affects all threads from the next message on.
    public static var logger: Logger {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }

    /// The lowest level `logger` emits (its `logLevel`).
    public static var level: Level {
        get { Level(logger.logLevel) }
        set { current.withLock { $0.logLevel = newValue.swiftLog } }
    }

    public static func debug(_ message: @autoclosure () -> String) { emit(.debug, message) }
    public static func info(_ message: @autoclosure () -> String) { emit(.info, message) }
    public static func warning(_ message: @autoclosure () -> String) { emit(.warning, message) }
    public static func error(_ message: @autoclosure () -> String) { emit(.error, message) }

    private static func emit(_ level: Level, _ message: () -> String) {
        // Logger checks its level before building the message, so a debug line costs nothing by default.
        logger.log(level: level.swiftLog, "\(message())")
    }
}
