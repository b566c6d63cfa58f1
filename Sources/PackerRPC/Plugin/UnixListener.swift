import Glibc
import NBDCore

/// The unix socket Packer connects to, in a fresh private directory (as Packer's SDK does on Unix).
/// It accepts exactly one connection, then removes the socket and its directory.
public final class UnixListener {
    public let path: String
    private let directory: String
    private let socket: FileDescriptor

    public init() throws {
        directory = try PrivateDirectory.make("packer-plugin")
        path = directory + "/plugin.sock"
        let fd = try syscall("socket") { Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        socket = FileDescriptor(adopting: fd, path: path)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            rmdir(directory)
            throw SystemError("bind", path: path, errno: ENAMETOOLONG, hint: "set TMPDIR to a shorter directory")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        do {
            try withUnsafePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                    _ = try syscall("bind", path: path) { bind(fd, generic, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
            try syscall("listen", path: path) { listen(fd, 1) }
        } catch {
            rmdir(directory)
            throw error
        }
    }

    /// Waits up to `timeout` seconds for Packer to connect.
    public func acceptOne(timeout: Int32 = 120) throws -> SocketConnection {
        defer { remove() }
        var poller = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
        let ready = try syscall("poll", path: path) { poll(&poller, 1, timeout * 1000) }
        guard ready > 0 else {
            throw SystemError("accept", path: path, errno: ETIMEDOUT, hint: "Packer did not connect within \(timeout) s")
        }
        let client = try syscall("accept", path: path) { accept(socket.rawValue, nil, nil) }
        // Nothing is spawned before this point, so setting FD_CLOEXEC after accept cannot leak.
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        return SocketConnection(FileDescriptor(adopting: client, path: path))
    }

    private func remove() {
        try? socket.close()
        unlink(path)
        rmdir(directory)
    }

    deinit { remove() }
}
