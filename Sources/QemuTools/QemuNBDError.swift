import HostSystem
/// Why a qemu-nbd server could not be started or stopped cleanly. Messages quote what qemu-nbd printed.
public enum QemuNBDError: Error, CustomStringConvertible, Equatable {
    case invalidOptions(String)
    case socketPathTooLong(String)
    /// qemu-nbd ended before it listened: the status and its stderr.
    case exitedBeforeListening(image: String, status: ExitStatus, stderr: String)
    case notListening(image: String, seconds: Double, stderr: String)
    /// It had to be killed, so it may not have flushed the image.
    case killedOnStop(image: String, status: ExitStatus)
    /// It ended on its own with a failure while it was serving.
    case endedEarly(image: String, status: ExitStatus, stderr: String)

    public var description: String {
        switch self {
        case .invalidOptions(let text):
            return "qemu-nbd options: \(text)"
        case .socketPathTooLong(let path):
            return "qemu-nbd socket path \(path) is longer than a unix socket allows (107 bytes); set TMPDIR to a shorter directory"
        case .exitedBeforeListening(let image, let status, let stderr):
            return "qemu-nbd for \(image) ended with \(status) before it listened" + QemuNBDError.quote(stderr)
        case .notListening(let image, let seconds, let stderr):
            return "qemu-nbd for \(image) was not listening after \(seconds) s and was stopped" + QemuNBDError.quote(stderr)
        case .endedEarly(let image, let status, let stderr):
            return "qemu-nbd for \(image) ended with \(status) while serving; the image may lack writes" + QemuNBDError.quote(stderr)
        case .killedOnStop(let image, let status):
            return "qemu-nbd for \(image) did not stop after SIGTERM and was killed (\(status)); its last writes may not be flushed"
        }
    }

    private static func quote(_ stderr: String) -> String {
        let text = stderr.trimmingWhitespace()
        return text.isEmpty ? " (it printed nothing)" : ": \(text)"
    }
}
