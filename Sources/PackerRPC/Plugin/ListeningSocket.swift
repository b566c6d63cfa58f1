import Glibc
import HostSystem

/// Where Packer connects: a unix socket (Packer's SDK on Unix) or, when that cannot be made, TCP on
/// 127.0.0.1 within PACKER_PLUGIN_MIN_PORT..MAX (what the SDK does on Windows; 1.6.6 accepts it on Linux).
public protocol PluginListener: AnyObject {
    /// "unix" or "tcp", as the handshake line names it.
    var network: String { get }
    var address: String { get }
    /// Waits for Packer's one connection, then stops listening.
    func acceptOne(timeout: Int32) throws -> SocketConnection
}

/// A listening socket that accepts exactly one connection.
final class ListeningSocket {
    let socket: FileDescriptor

    init(_ socket: FileDescriptor) { self.socket = socket }

    func acceptOne(timeout: Int32) throws -> SocketConnection {
        var poller = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
        let ready = try syscall("poll", path: socket.path) { poll(&poller, 1, timeout * 1000) }
        guard ready > 0 else {
            throw SystemError("accept", path: socket.path, errno: ETIMEDOUT, hint: "Packer did not connect within \(timeout) s")
        }
        let client = try syscall("accept", path: socket.path) { accept(socket.rawValue, nil, nil) }
        // Nothing is spawned before this point, so setting FD_CLOEXEC after accept cannot leak.
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        try? socket.close()
        return SocketConnection(FileDescriptor(adopting: client, path: socket.path))
    }

    static func stream(_ family: Int32, path: String) throws -> FileDescriptor {
        let fd = try syscall("socket", path: path) { Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        return FileDescriptor(adopting: fd, path: path)
    }

    static func bind<Address>(_ socket: FileDescriptor, _ address: inout Address) throws {
        try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                _ = try syscall("bind", path: socket.path) { Glibc.bind(socket.rawValue, generic, socklen_t(MemoryLayout<Address>.size)) }
            }
        }
        try syscall("listen", path: socket.path) { listen(socket.rawValue, 1) }
    }
}
