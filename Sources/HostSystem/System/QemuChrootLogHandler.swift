import Glibc
import Logging
import Synchronization

/// The `qemu-chroot` CLI's diagnostics format, one line per message on stderr:
/// `qemu-chroot: debug: …`, `qemu-chroot: …` (info and notice), `qemu-chroot: warning: …`,
/// `qemu-chroot: error: …` (error and critical). Metadata, when a caller adds some, follows as `key=value`.
/// `Log.logger` uses it until an embedder replaces it; the executables install it explicitly.
public struct QemuChrootLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    /// Printed before every line, without the colon.
    public let prefix: String
    /// Receives each finished line, newline included.
    private let write: @Sendable (String) -> Void

    public init(prefix: String = "qemu-chroot", logLevel: Logger.Level = .info,
                write: @escaping @Sendable (String) -> Void = QemuChrootLogHandler.standardError) {
        self.prefix = prefix
        self.logLevel = logLevel
        self.write = write
    }

    /// A logger writing through this handler (a `Log.Level`, so executables need not import Logging).
    public static func logger(level: Log.Level = .info,
                              write: @escaping @Sendable (String) -> Void = QemuChrootLogHandler.standardError) -> Logger {
        Logger(label: "qemu-chroot") { _ in QemuChrootLogHandler(logLevel: level.swiftLog, write: write) }
    }

    /// One fputs per line under one lock, so lines from concurrent builds never interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        standardErrorLock.withLock { _ in _ = line.withCString { fputs($0, stderr) } }
    }

    private static let standardErrorLock = Synchronization.Mutex(())

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let fields = merged.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        write("\(prefix): \(Self.label(event.level))\(event.message)\(fields)\n")
    }

    private static func label(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: return "debug: "
        case .info, .notice: return ""
        case .warning: return "warning: "
        case .error, .critical: return "error: "
        }
    }
}
