/// One request on the wire and everything its reply fills in. The buffers belong to the caller and must
/// stay valid until the request completes (the pipeline finishes every request before returning).
final class NBDRequest {
    let command: NBDCommand
    let flags: UInt16
    let offset: UInt64
    let length: UInt32
    /// WRITE: the bytes to send after the header.
    let payload: UnsafeRawBufferPointer?
    /// READ: where the data goes; exactly `length` bytes.
    let destination: UnsafeMutableRawBufferPointer?
    /// Free for the submitter, e.g. which buffer slot the request reads into.
    var tag = 0

    var cookie: UInt64 = 0
    /// Header then payload bytes sent so far.
    var sent = 0
    private(set) var header = [UInt8](repeating: 0, count: NBDWire.requestHeaderSize)

    /// READ: bytes the reply chunks have accounted for (data or hole).
    var covered: UInt64 = 0
    /// BLOCK_STATUS: the extents of the base:allocation chunk.
    var extents: [NBDExtent]?
    /// The server's error for this request (the connection stays usable).
    var failure: NBDError?

    init(_ command: NBDCommand, flags: UInt16 = 0, offset: UInt64 = 0, length: UInt32 = 0,
         payload: UnsafeRawBufferPointer? = nil, destination: UnsafeMutableRawBufferPointer? = nil) {
        self.command = command
        self.flags = flags
        self.offset = offset
        self.length = length
        self.payload = payload
        self.destination = destination
    }

    var totalBytes: Int { NBDWire.requestHeaderSize + (payload?.count ?? 0) }

    /// Magic, u16 flags, u16 type, u64 cookie, u64 offset, u32 length.
    func encodeHeader(cookie: UInt64) {
        self.cookie = cookie
        header.withUnsafeMutableBytes { bytes in
            bytes.storeBigEndian(NBDWire.requestMagic, at: 0)
            bytes.storeBigEndian(flags, at: 4)
            bytes.storeBigEndian(command.rawValue, at: 6)
            bytes.storeBigEndian(cookie, at: 8)
            bytes.storeBigEndian(offset, at: 16)
            bytes.storeBigEndian(length, at: 24)
        }
    }

    /// "READ of 4096 bytes at 8192", for messages.
    var summary: String {
        switch command {
        case .flush, .disconnect: return "\(command)"
        default: return "\(command) of \(length) bytes at \(offset)"
        }
    }

    func fail(errno: Int32, message: String) {
        guard failure == nil else { return }
        let said = message.trimmingWhitespace()
        failure = NBDError(.commandFailed, "the server failed \(summary)" + (said.isEmpty ? "" : ": \(said)"), errno: errno)
    }
}
