import Glibc
import NBDCore

/// qemu-nbd serving one image (the project's QemuNBDServer), and connections negotiated the way the kernel
/// needs them (NBDHandshakeOptions.forKernel: no structured replies), handed over with takeSocketForKernel().
final class KernelTestExport {
    let server: QemuNBDServer

    /// `shared`: allow several connections (qemu-nbd advertises CAN_MULTI_CONN).
    init(image: String, shared: Bool = false, readOnly: Bool = false) throws {
        var options = QemuNBDOptions(format: "qcow2")
        options.shared = shared ? 0 : 1
        options.readOnly = readOnly
        server = try QemuNBDServer(image: image, options: options)
    }

    /// One negotiated connection: the socket, the export size and the transmission flags.
    func connect() throws -> (socket: FileDescriptor, size: UInt64, flags: UInt16) {
        let connection = try NBDConnection.connect(unixSocket: server.socketPath, options: .forKernel(exportName: server.exportName))
        return (try connection.takeSocketForKernel(), connection.export.size, connection.export.transmissionFlags.rawValue)
    }

    /// qemu-nbd (not persistent) exits once its last client is gone: here, when the kernel disconnected.
    var serverExited: Bool {
        guard let stat = BlockSysfs.attribute("/proc/\(server.pid)/stat") else { return true }
        return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
    }

    /// Ends qemu-nbd (which flushes the qcow2) and waits for it.
    func stop() { try? server.stop() }

    deinit { stop() }
}
