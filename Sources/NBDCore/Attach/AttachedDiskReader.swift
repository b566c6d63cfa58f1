import Glibc

/// Reads of an attached disk's whole-disk file (the FUSE export file or the raw image). Unlike
/// FileBlockReader it can be closed: the FUSE export cannot unmount while we hold its file open.
final class AttachedDiskReader: BlockReader, @unchecked Sendable {
    let path: String
    let size: UInt64
    private let file: FileDescriptor

    init(path: String, readOnly: Bool) throws {
        self.path = path
        let file = try FileDescriptor.open(path, readOnly ? O_RDONLY : O_RDWR)
        self.file = file
        var info = stat()
        try syscall("fstat", path: path) { fstat(file.rawValue, &info) }
        size = UInt64(info.st_size)
    }

    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        guard count >= 0, offset <= size, UInt64(count) <= size - offset else {
            throw SystemError("read", path: "\(path) at \(offset)+\(count) (disk is \(size) bytes)", errno: EINVAL)
        }
        guard file.rawValue >= 0 else { throw AttachError("\(path) was detached; it cannot be read any more") }
        var buffer = [UInt8](repeating: 0, count: count)
        let got = try buffer.withUnsafeMutableBytes { try file.pread(into: $0, at: offset) }
        guard got == count else { throw SystemError("read", path: "\(path) at \(offset): short read", errno: EIO) }
        return buffer
    }

    /// fsync(2): for the FUSE file this makes qemu-storage-daemon flush the image.
    func sync() throws {
        guard file.rawValue >= 0 else { return }
        try syscall("fsync", path: path) { fsync(file.rawValue) }
    }

    func close() throws { try file.close() }
}
