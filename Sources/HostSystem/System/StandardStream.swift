import Glibc

/// Writes to the process's stdout and stderr with write(2). Swift 6 sees Glibc's `stdout` and `stderr` as
/// shared mutable globals; going through the descriptors avoids them. Buffered `print` output is flushed
/// first so the order on a stream stays as written.
package enum StandardStream {
    package static func output(_ text: String) { write(text, to: STDOUT_FILENO) }
    package static func error(_ text: String) { write(text, to: STDERR_FILENO) }

    private static func write(_ text: String, to fd: Int32) {
        fflush(nil)
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
