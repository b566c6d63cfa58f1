import Glibc
import HostSystem

/// Random-access reads of a whole disk: what the partition-table and filesystem probes need.
/// Implemented by the user-space NBD client, by raw image files and by block devices.
public protocol BlockReader: AnyObject {
    /// Size of the disk in bytes.
    var size: UInt64 { get }
    /// Exactly `count` bytes at `offset`; throws if the range is not inside the disk.
    func read(at offset: UInt64, count: Int) throws -> [UInt8]
}

/// A disk read wholesale from a raw file or a block device with pread(2). It can be closed, because a
/// FUSE export cannot unmount while its file is held open.
public final class FileBlockReader: BlockReader, Sendable {
    public let path: String
    public let size: UInt64
    private let file: FileDescriptor

    /// `writable` opens read-write, so `sync()` can flush through a writable FUSE export.
    public init(path: String, writable: Bool = false) throws {
        self.path = path
        let file = try FileDescriptor.open(path, writable ? O_RDWR : O_RDONLY)
        self.file = file
        var info = stat()
        try syscall("fstat", path: path) { fstat(file.rawValue, &info) }
        if (info.st_mode & S_IFMT) == S_IFBLK {
            // Block devices report their size through BLKGETSIZE64, not st_size.
            var bytes: UInt64 = 0
            try file.ioctl("BLKGETSIZE64", 0x8008_1272, pointer: &bytes)
            size = bytes
        } else {
            size = UInt64(info.st_size)
        }
    }

    public func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        guard count >= 0, offset <= size, UInt64(count) <= size - offset else {
            throw SystemError("read", path: "\(path) at \(offset)+\(count) (disk is \(size) bytes)", errno: EINVAL)
        }
        guard file.rawValue >= 0 else { throw SystemError("read", path: "\(path) (closed: the disk was detached)", errno: EBADF) }
        var buffer = [UInt8](repeating: 0, count: count)
        let got = try buffer.withUnsafeMutableBytes { try file.pread(into: $0, at: offset) }
        guard got == count else { throw SystemError("read", path: "\(path) at \(offset): short read", errno: EIO) }
        return buffer
    }

    /// fsync(2): for a FUSE export file this makes qemu-storage-daemon flush the image.
    public func sync() throws {
        guard file.rawValue >= 0 else { return }
        try syscall("fsync", path: path) { fsync(file.rawValue) }
    }

    /// Idempotent.
    public func close() throws { try file.close() }
}
