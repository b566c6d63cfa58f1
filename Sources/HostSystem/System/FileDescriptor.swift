import CNBD
import Glibc
import Synchronization

/// An open file descriptor with exactly one owner. It closes itself when dropped; `close()` reports errors
/// and is safe to call twice; `release()` hands the raw descriptor to a new owner (the kernel, a child).
/// A class rather than a ~Copyable struct so owners can keep it in their own classes and closures.
public final class FileDescriptor: Sendable {
    private let descriptor: Mutex<Int32>

    /// The raw descriptor; -1 once closed or released.
    public var rawValue: Int32 { descriptor.withLock { $0 } }
    /// The path it was opened from, for error messages.
    public let path: String

    public init(adopting rawValue: Int32, path: String) {
        precondition(rawValue >= 0, "adopting an invalid file descriptor")
        self.descriptor = Mutex(rawValue)
        self.path = path
    }

    /// The corresponding system call is open(2); O_CLOEXEC is always added.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws -> FileDescriptor {
        let fd = try syscall("open", path: path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(adopting: fd, path: path)
    }

    public func close() throws {
        let fd = release()
        guard fd >= 0 else { return }
        // close(2) must not be retried on EINTR: the descriptor is gone either way.
        if Glibc.close(fd) != 0 && Glibc.errno != EINTR {
            throw SystemError("close", path: path, errno: Glibc.errno)
        }
    }

    /// Gives up ownership without closing; returns -1 if already closed or released.
    public func release() -> Int32 {
        descriptor.withLock { descriptor in
            let fd = descriptor
            descriptor = -1
            return fd
        }
    }

    deinit {
        let fd = descriptor.withLock { $0 }
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    // MARK: I/O

    /// Reads up to `count` bytes at the file position; returns fewer only at end of file.
    public func read(count: Int) throws -> [UInt8] {
        // The buffer grows as data arrives: callers pass generous limits (16 MiB for mountinfo), and
        // zero-filling the whole limit up front cost ~30 ms for each 2 KiB mountinfo read of a teardown.
        var buffer: [UInt8] = []
        var chunk = min(count, 64 << 10)
        while buffer.count < count {
            let filled = buffer.count
            let wanted = min(chunk, count - filled)
            buffer.append(contentsOf: repeatElement(0, count: wanted))
            let got = try buffer.withUnsafeMutableBytes { (raw) throws -> Int in
                try syscall("read", path: path) { Glibc.read(rawValue, raw.baseAddress! + filled, wanted) }
            }
            buffer.removeSubrange((filled + got)...)
            if got == 0 { break }
            chunk = min(chunk * 2, 16 << 20)
        }
        return buffer
    }

    /// Reads exactly `buffer.count` bytes at `offset`, or fewer at end of file; returns how many.
    public func pread(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let got = try syscall("pread", path: path) {
                Glibc.pread(rawValue, buffer.baseAddress! + filled, buffer.count - filled, off_t(offset) + off_t(filled))
            }
            if got == 0 { break }
            filled += got
        }
        return filled
    }

    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            done += try syscall("write", path: path) { Glibc.write(rawValue, bytes.baseAddress! + done, bytes.count - done) }
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { (raw) throws in try writeAll(raw) }
    }

    public func pwriteAll(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            done += try syscall("pwrite", path: path) {
                Glibc.pwrite(rawValue, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            }
        }
    }

    // MARK: ioctl

    /// ioctl(2) with an integer argument passed as a full unsigned long (see cnbd_ioctl.h).
    @discardableResult
    public func ioctl(_ name: String, _ request: UInt, value: UInt = 0) throws -> Int32 {
        try syscall("ioctl(\(name))", path: path) { cnbd_ioctl_value(rawValue, request, value) }
    }

    /// ioctl(2) with a pointer argument.
    @discardableResult
    public func ioctl(_ name: String, _ request: UInt, pointer: UnsafeMutableRawPointer?) throws -> Int32 {
        try syscall("ioctl(\(name))", path: path) { cnbd_ioctl_pointer(rawValue, request, pointer) }
    }
}
