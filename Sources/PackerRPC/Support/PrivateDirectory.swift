import Glibc
import NBDCore

/// A fresh mode-0700 directory under $TMPDIR (or /tmp), for the plugin socket and upload spools.
enum PrivateDirectory {
    static func make(_ prefix: String) throws -> String {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/\(prefix).XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SystemError("mkdtemp", path: base, errno: errno)
        }
        return String(cString: made)
    }
}
