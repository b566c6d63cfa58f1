import Glibc

/// Reads a small text file (template, var-file) whole, refusing files larger than `limit`.
package enum TextFile {
    package static func read(_ path: String, limit: Int, what: String) throws -> String {
        let file = try FileDescriptor.open(path, O_RDONLY)
        defer { try? file.close() }
        // One byte past the limit tells "exactly at the limit" from "too large".
        let bytes = try file.read(count: limit + 1)
        guard bytes.count <= limit else {
            throw SystemError("read \(what)", path: path, errno: EFBIG, hint: "a \(what) is at most \(limit >> 20) MiB")
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
