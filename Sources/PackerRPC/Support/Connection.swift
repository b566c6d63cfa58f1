import Glibc
import HostSystem

/// The byte pipe under a yamux session: the one socket Packer connects to, or a socketpair in tests.
public protocol Connection: AnyObject, Sendable {
    /// Reads up to `count` bytes; returns fewer only at end of stream (empty = closed).
    func read(count: Int) throws -> [UInt8]
    func writeAll(_ bytes: [UInt8]) throws
    /// Wakes a blocked reader and makes further I/O fail; safe to call twice.
    func shutdown()
}

/// A connected stream socket. `shutdown` rather than close stops the reader thread, because closing a
/// descriptor another thread is blocked on is a race; the descriptor closes when the object goes.
public final class SocketConnection: Connection, Sendable {
    private let socket: FileDescriptor

    public init(_ socket: FileDescriptor) { self.socket = socket }

    public func read(count: Int) throws -> [UInt8] { try socket.read(count: count) }

    public func writeAll(_ bytes: [UInt8]) throws {
        // MSG_NOSIGNAL: a peer that went away must give EPIPE, not kill the plugin with SIGPIPE.
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                done += try syscall("send", path: socket.path) {
                    Glibc.send(socket.rawValue, raw.baseAddress! + done, raw.count - done, Int32(MSG_NOSIGNAL))
                }
            }
        }
    }

    public func shutdown() { _ = Glibc.shutdown(socket.rawValue, Int32(SHUT_RDWR)) }

    /// Two connected unix stream sockets, for tests and in-process transports.
    public static func pair() throws -> (SocketConnection, SocketConnection) {
        var fds: [Int32] = [0, 0]
        try syscall("socketpair") { socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
        return (SocketConnection(FileDescriptor(adopting: fds[0], path: "socketpair")),
                SocketConnection(FileDescriptor(adopting: fds[1], path: "socketpair")))
    }
}
