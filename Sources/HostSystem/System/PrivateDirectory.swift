import Glibc

/// A fresh directory with mode 0700 (mkdtemp(3)), for sockets, FUSE files, device nodes and spools that no
/// other user may reach. The one place mkdtemp is called.
public enum PrivateDirectory {
    /// `<parent>/<prefix>.XXXXXX`; `parent` defaults to $TMPDIR, else /tmp.
    public static func make(_ prefix: String, in parent: String? = nil) throws -> String {
        let base = parent ?? getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/\(prefix).XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SystemError("mkdtemp", path: "\(base)/\(prefix).XXXXXX", errno: errno)
        }
        return String(cString: made)
    }
}
