import Glibc
import HostSystem

/// The unix socket Packer connects to, in a fresh private directory (as Packer's SDK does on Unix).
/// It accepts exactly one connection, then removes the socket and its directory.
public final class UnixListener: PluginListener {
    public let network = "unix"
    public let address: String
    private let directory: String
    private let listening: ListeningSocket

    public init() throws {
        directory = try PrivateDirectory.make("packer-plugin")
        address = directory + "/plugin.sock"
        do {
            var socketAddress = sockaddr_un()
            socketAddress.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(address.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: socketAddress.sun_path) else {
                throw SystemError("bind", path: address, errno: ENAMETOOLONG, hint: "set TMPDIR to a shorter directory")
            }
            withUnsafeMutableBytes(of: &socketAddress.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let socket = try ListeningSocket.stream(AF_UNIX, path: address)
            try ListeningSocket.bind(socket, &socketAddress)
            listening = ListeningSocket(socket)
        } catch {
            rmdir(directory)
            throw error
        }
    }

    public func acceptOne(timeout: Int32 = 120) throws -> SocketConnection {
        defer { remove() }
        return try listening.acceptOne(timeout: timeout)
    }

    private func remove() {
        try? listening.socket.close()
        unlink(address)
        rmdir(directory)
    }

    deinit { remove() }
}
