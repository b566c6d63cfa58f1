import Glibc
import HostSystem

/// 127.0.0.1 on the first free port in Packer's range (PACKER_PLUGIN_MIN_PORT..MAX, default 10000-25000).
public final class TCPListener: PluginListener {
    public let network = "tcp"
    public let address: String
    private let listening: ListeningSocket

    public init(environment: [String: String]) throws {
        let low = environment["PACKER_PLUGIN_MIN_PORT"].flatMap { UInt16($0) } ?? 10000
        let high = environment["PACKER_PLUGIN_MAX_PORT"].flatMap { UInt16($0) } ?? 25000
        guard low <= high else { throw SystemError("bind", path: "127.0.0.1:\(low)-\(high)", errno: EINVAL) }
        for port in low...high {
            let text = "127.0.0.1:\(port)"
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = port.bigEndian
            socketAddress.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            let socket = try ListeningSocket.stream(AF_INET, path: text)
            do {
                try ListeningSocket.bind(socket, &socketAddress)
            } catch let error as SystemError where error.errno == EADDRINUSE || error.errno == EACCES {
                continue
            }
            address = text
            listening = ListeningSocket(socket)
            return
        }
        throw SystemError("bind", path: "127.0.0.1:\(low)-\(high)", errno: EADDRINUSE, hint: "no free port in Packer's plugin port range")
    }

    public func acceptOne(timeout: Int32 = 120) throws -> SocketConnection { try listening.acceptOne(timeout: timeout) }
}
