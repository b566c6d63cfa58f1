import Glibc
import HostSystem

enum DirectoryEntries {
    /// Entry names of an open directory, sorted, without "." and ".."; takes ownership of `directory`.
    static func names(_ directory: FileDescriptor) throws -> [String] {
        let fd = directory.release()
        guard let stream = fdopendir(fd) else {
            let code = errno
            close(fd)
            throw SystemError("fdopendir", path: directory.path, errno: code)
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func readLink(_ directory: Int32, _ path: String) throws -> String {
        let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: Int(PATH_MAX) + 1)
        defer { buffer.deallocate() }
        let count = try syscall("readlinkat", path: path) { readlinkat(directory, path, buffer.baseAddress!, buffer.count - 1) }
        return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: count), as: UTF8.self)
    }
}
