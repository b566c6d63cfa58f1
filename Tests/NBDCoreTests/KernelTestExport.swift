import Glibc
import NBDCore
import TestSupport

/// qemu-nbd serving one image on a private unix socket, and connections negotiated the way the kernel needs
/// them (fixed newstyle, NBD_OPT_EXPORT_NAME, no structured replies). Test-local until the project's NBD
/// client offers takeSocketForKernel().
final class KernelTestExport {
    let directory: TemporaryDirectory
    let server: ChildProcess
    var socketPath: String { directory.file("nbd.sock") }

    /// `shared`: allow several connections (qemu-nbd -e 2 advertises CAN_MULTI_CONN).
    init(image: String, format: String = "qcow2", shared: Bool = false, readOnly: Bool = false) throws {
        directory = try TemporaryDirectory("kernel-export")
        server = try ChildProcess.spawn("qemu-nbd", ["-f", format, "-x", "img", "-k", directory.file("nbd.sock"),
                                                     "-e", shared ? "2" : "1"] + (readOnly ? ["-r"] : []) + [image])
        let deadline = Monotonic.now + 10
        while access(socketPath, F_OK) != 0 {
            if let status = server.poll() { throw KernelTestFailure("qemu-nbd exited at start: \(status)") }
            guard Monotonic.now < deadline else { throw KernelTestFailure("qemu-nbd did not listen within 10 s") }
            usleep(10_000)
        }
    }

    /// One negotiated connection: the socket, the export size and the transmission flags.
    func connect() throws -> (socket: FileDescriptor, size: UInt64, flags: UInt16) {
        let raw = try syscall("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let fd = FileDescriptor(adopting: raw, path: socketPath)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in socketPath.utf8.prefix(buffer.count - 1).enumerated() { buffer[i] = byte }
        }
        try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                try syscall("connect", path: socketPath) { Glibc.connect(raw, address, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        let greeting = try fd.read(count: 18)
        guard greeting.count == 18, Array(greeting[0..<8]) == Array("NBDMAGIC".utf8), Array(greeting[8..<16]) == Array("IHAVEOPT".utf8) else {
            throw KernelTestFailure("not a fixed-newstyle NBD server")
        }
        let noZeroes = greeting[17] & 2 != 0
        let name = Array("img".utf8)
        try fd.writeAll(be32(noZeroes ? 3 : 1) + Array("IHAVEOPT".utf8) + be32(1) + be32(UInt32(name.count)) + name)
        let reply = try fd.read(count: noZeroes ? 10 : 134)
        guard reply.count == (noZeroes ? 10 : 134) else { throw KernelTestFailure("export 'img' refused") }
        let size = reply[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let flags = UInt16(reply[8]) << 8 | UInt16(reply[9])
        return (fd, size, flags)
    }

    /// Ends qemu-nbd (which flushes the qcow2) and waits for it.
    func stop() { _ = server.terminate(grace: 5) }

    deinit { stop() }

    private func be32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
}

struct KernelTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
