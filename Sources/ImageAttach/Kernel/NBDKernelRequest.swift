import CNBD
import HostSystem

/// What the kernel needs to serve a block device from already-negotiated NBD connections.
///
/// The sockets must have finished the handshake without structured replies (the kernel parses only simple
/// replies) and have nothing in flight. `attach` takes ownership of them: the kernel keeps its own references,
/// and ours are closed once the hand-off is done, whether it worked or not.
public struct NBDKernelRequest {
    public var sockets: [FileDescriptor]
    public var size: UInt64
    /// A power of two from 512 to the page size; the kernel's default (1024) is never what an image wants.
    public var blockSize: UInt64
    /// The export's transmission flags, passed unchanged (READ_ONLY is added when `readOnly`).
    public var serverFlags: UInt16
    public var readOnly: Bool
    /// Seconds before a stuck request fails; 0 = never.
    public var timeoutSeconds: UInt64
    /// `qemu-chroot:<run-id>`: shows in /sys/block/nbdN/backend, so cleanup can tell our devices apart.
    public var backendIdentifier: String?
    /// nil: the kernel picks a free device (or creates one), which is race-free between parallel runs.
    public var deviceIndex: Int?

    public init(sockets: [FileDescriptor], size: UInt64, blockSize: UInt64 = 512, serverFlags: UInt16,
                readOnly: Bool = false, timeoutSeconds: UInt64 = 30, backendIdentifier: String? = nil,
                deviceIndex: Int? = nil) {
        self.sockets = sockets
        self.size = size
        self.blockSize = blockSize
        self.serverFlags = serverFlags
        self.readOnly = readOnly
        self.timeoutSeconds = timeoutSeconds
        self.backendIdentifier = backendIdentifier
        self.deviceIndex = deviceIndex
    }

    /// The transmission flags the kernel is given.
    public var kernelFlags: UInt64 {
        UInt64(serverFlags) | (readOnly ? UInt64(NBD_FLAG_READ_ONLY) : 0)
    }

    /// Checks what the kernel would reject with a bare EINVAL (explained only in dmesg).
    public func validate() throws {
        guard !sockets.isEmpty else { throw NBDKernelError.invalidRequest("no NBD connection to hand over") }
        guard blockSize >= 512, blockSize <= 65536, blockSize & (blockSize - 1) == 0 else {
            throw NBDKernelError.invalidRequest("block size \(blockSize) is not a power of two from 512 up")
        }
        guard size > 0, size % blockSize == 0 else {
            throw NBDKernelError.invalidRequest("export size \(size) is not a positive multiple of the block size \(blockSize)")
        }
        if sockets.count > 1 && serverFlags & UInt16(NBD_FLAG_CAN_MULTI_CONN) == 0 {
            throw NBDKernelError.invalidRequest("\(sockets.count) connections, but the server does not allow multi-conn")
        }
    }

    /// The netlink CONNECT arguments, with DISCONNECT_ON_CLOSE: the device frees itself when our last fd
    /// on it closes, also when the process dies.
    func withNetlinkRequest<R>(_ body: (UnsafePointer<cnbd_nl_connect_request>) -> R) -> R {
        let fds = sockets.map(\.rawValue)
        return fds.withUnsafeBufferPointer { fdBuffer in
            withOptionalCString(backendIdentifier) { identifier in
                var request = cnbd_nl_connect_request(
                    sockets: fdBuffer.baseAddress!, socket_count: UInt32(fds.count), size_bytes: size,
                    block_size_bytes: blockSize, server_flags: kernelFlags, timeout_seconds: timeoutSeconds,
                    client_flags: UInt64(NBD_CFLAG_DISCONNECT_ON_CLOSE), backend_identifier: identifier,
                    index: deviceIndex.map(Int64.init) ?? -1)
                return body(&request)
            }
        }
    }

    /// Closes our copies of the sockets (the kernel holds its own).
    func closeSockets() {
        for socket in sockets { try? socket.close() }
    }
}

