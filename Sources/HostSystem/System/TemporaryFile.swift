import Glibc

/// A new file of mode 0600 under $TMPDIR (else /tmp) that no one else can have opened (mkstemp(3)). The one
/// place mkstemp is called.
public enum TemporaryFile {
    /// `<$TMPDIR>/<prefix>.XXXXXX`, open read-write; the caller owns both the descriptor and the name.
    public static func make(_ prefix: String) throws -> (path: String, file: FileDescriptor) {
        let base = ProcessEnvironment.current["TMPDIR"] ?? "/tmp"
        var template = Array("\(base)/\(prefix).XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SystemError("mkstemp", path: "\(base)/\(prefix).XXXXXX", errno: errno) }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (path, FileDescriptor(adopting: fd, path: path))
    }

    /// An open file with no name: it disappears with its last descriptor.
    public static func anonymous(_ prefix: String) throws -> FileDescriptor {
        let (path, file) = try make(prefix)
        unlink(path)
        return file
    }
}
