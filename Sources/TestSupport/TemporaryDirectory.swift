import Glibc
import NBDCore

/// A private directory under $TMPDIR (or /tmp) that removes itself, with everything in it.
public final class TemporaryDirectory {
    public let path: String

    public init(_ prefix: String = "qemu-chroot-test") throws {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/\(prefix).XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SystemError("mkdtemp", path: base, errno: errno)
        }
        path = String(cString: made)
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    deinit {
        _ = try? Command.run("/bin/rm", ["-rf", "--one-file-system", path])
    }
}
