import Glibc

/// The reader half of the pipeline: one simple reply or one structured chunk per call, every field checked
/// against the request it names before a byte of payload is read, data read straight into the caller's
/// buffer. Anything that does not fit is a protocol violation (the caller drops the connection).
extension NBDPipeline {
    /// Largest BLOCK_STATUS chunk we accept: the spec's SHOULD of at most 2^20 extents.
    static let maximumBlockStatusChunk = 4 + 8 * (1 << 20)

    /// Returns the request once its reply is complete (simple reply, or a chunk with DONE).
    func readReply() throws -> NBDRequest? {
        try withUnsafeTemporaryAllocation(byteCount: NBDWire.structuredReplySize, alignment: 8) { header in
            // Both reply kinds are at least 16 bytes; the magic says whether 4 more follow.
            try socket.readExact(into: UnsafeMutableRawBufferPointer(rebasing: header[..<16]), "a reply header")
            let magic = UnsafeRawBufferPointer(header).bigEndian(UInt32.self, at: 0)
            if magic == NBDWire.simpleReplyMagic { return try readSimpleReply(UnsafeRawBufferPointer(header)) }
            guard magic == NBDWire.structuredReplyMagic else {
                throw NBDError(.protocolViolation, "a reply starts with 0x\(String(magic, radix: 16)), which is no NBD reply magic")
            }
            guard export.structuredReplies else {
                throw NBDError(.protocolViolation, "the server sent a structured reply although none were negotiated")
            }
            try socket.readExact(into: UnsafeMutableRawBufferPointer(rebasing: header[16...]), "a reply chunk header")
            return try readChunk(UnsafeRawBufferPointer(header))
        }
    }

    private func request(for cookie: UInt64) throws -> NBDRequest {
        guard let request = inFlight[cookie] else {
            throw NBDError(.protocolViolation, "the server replied to cookie \(cookie), which names no request in flight")
        }
        return request
    }

    /// u32 magic, u32 error, u64 cookie; READ data follows only without error.
    private func readSimpleReply(_ header: UnsafeRawBufferPointer) throws -> NBDRequest {
        let request = try request(for: header.bigEndian(UInt64.self, at: 8))
        let error = header.bigEndian(UInt32.self, at: 4)
        if error != 0 {
            request.fail(errno: NBDError.localErrno(fromWire: error), message: "")
        } else if request.command == .read {
            try socket.readExact(into: request.destination!, "the data for \(request.summary)")
            request.covered = UInt64(request.length)
        } else if request.command == .blockStatus {
            throw NBDError(.protocolViolation, "the server answered \(request.summary) with a simple reply and no extents")
        }
        return request
    }

    /// u32 magic, u16 flags, u16 type, u64 cookie, u32 length, payload.
    private func readChunk(_ header: UnsafeRawBufferPointer) throws -> NBDRequest? {
        let flags = header.bigEndian(UInt16.self, at: 4)
        let type = header.bigEndian(UInt16.self, at: 6)
        let request = try request(for: header.bigEndian(UInt64.self, at: 8))
        let length = Int(header.bigEndian(UInt32.self, at: 16))
        let done = flags & NBDWire.chunkDone != 0
        switch type {
        case NBDWire.chunkNone:
            guard length == 0, done else { throw violation("a NONE chunk with \(length) bytes\(done ? "" : " and without DONE")", request) }
        case NBDWire.chunkOffsetData:
            try readOffsetData(length: length, into: request)
        case NBDWire.chunkOffsetHole:
            try readOffsetHole(length: length, into: request)
        case NBDWire.chunkBlockStatus:
            try readBlockStatus(length: length, into: request)
        case NBDWire.chunkError, NBDWire.chunkErrorOffset:
            try readError(length: length, withOffset: type == NBDWire.chunkErrorOffset, into: request)
        default:
            guard type & NBDWire.chunkErrorBit != 0, length <= NBDWire.maximumControlPayload else {
                throw violation("chunk type \(type) (\(length) bytes), which this client does not know", request)
            }
            try socket.discard(count: length, "an unknown error chunk")
            request.fail(errno: EINVAL, message: "unknown error chunk type \(type)")
        }
        guard done else { return nil }
        if request.command == .read && request.failure == nil && request.covered != UInt64(request.length) {
            throw violation("a reply covering \(request.covered) bytes", request)
        }
        return request
    }

    /// u64 offset + data, inside the request's range.
    private func readOffsetData(length: Int, into request: NBDRequest) throws {
        guard request.command == .read, length > 8, length - 8 <= Int(request.length) else {
            throw violation("a data chunk of \(length) bytes", request)
        }
        var offsetField = [UInt8](repeating: 0, count: 8)
        try offsetField.withUnsafeMutableBytes { try socket.readExact(into: $0, "a data chunk offset") }
        let start = try position(offsetField.bigEndian(UInt64.self, at: 0), count: length - 8, in: request)
        try socket.readExact(into: UnsafeMutableRawBufferPointer(rebasing: request.destination![start..<(start + length - 8)]),
                             "the data for \(request.summary)")
        request.covered += UInt64(length - 8)
    }

    /// u64 offset + u32 size, read as zeroes.
    private func readOffsetHole(length: Int, into request: NBDRequest) throws {
        guard request.command == .read, length == 12 else { throw violation("a hole chunk of \(length) bytes", request) }
        let fields = try socket.readExact(count: 12, "a hole chunk")
        let size = Int(fields.bigEndian(UInt32.self, at: 8))
        let start = try position(fields.bigEndian(UInt64.self, at: 0), count: size, in: request)
        UnsafeMutableRawBufferPointer(rebasing: request.destination![start..<(start + size)]).initializeMemory(as: UInt8.self, repeating: 0)
        request.covered += UInt64(size)
    }

    /// u32 context id + n × (u32 length, u32 flags); one chunk for our one context.
    private func readBlockStatus(length: Int, into request: NBDRequest) throws {
        guard request.command == .blockStatus, request.extents == nil, length >= 12, (length - 4) % 8 == 0,
              length <= NBDPipeline.maximumBlockStatusChunk else {
            throw violation("a block status chunk of \(length) bytes", request)
        }
        let bytes = try socket.readExact(count: length, "the block status for \(request.summary)")
        let context = bytes.bigEndian(UInt32.self, at: 0)
        guard context == export.blockStatusContextID else { throw violation("block status for context \(context), which we did not ask for", request) }
        var extents: [NBDExtent] = []
        extents.reserveCapacity((length - 4) / 8)
        var offset = request.offset
        for field in stride(from: 4, to: length, by: 8) {
            let size = UInt64(bytes.bigEndian(UInt32.self, at: field))
            guard size > 0 else { throw violation("an extent of length zero", request) }
            extents.append(NBDExtent(offset: offset, length: size, flags: NBDExtent.Flags(rawValue: bytes.bigEndian(UInt32.self, at: field + 4))))
            offset += size
        }
        request.extents = extents
    }

    /// u32 error, u16 message length, message (, u64 offset for ERROR_OFFSET).
    private func readError(length: Int, withOffset: Bool, into request: NBDRequest) throws {
        let fixed = withOffset ? 14 : 6
        guard length >= fixed, length <= NBDWire.maximumControlPayload else { throw violation("an error chunk of \(length) bytes", request) }
        let bytes = try socket.readExact(count: length, "an error chunk")
        let error = bytes.bigEndian(UInt32.self, at: 0)
        let messageLength = Int(bytes.bigEndian(UInt16.self, at: 4))
        guard error != 0, messageLength <= length - fixed else { throw violation("a malformed error chunk", request) }
        request.fail(errno: NBDError.localErrno(fromWire: error), message: String(decoding: bytes[6..<(6 + messageLength)], as: UTF8.self))
    }

    /// The index in the request's buffer of `count` bytes at absolute `offset`; they must lie inside it.
    private func position(_ offset: UInt64, count: Int, in request: NBDRequest) throws -> Int {
        guard offset >= request.offset, offset - request.offset <= UInt64(request.length),
              UInt64(count) <= UInt64(request.length) - (offset - request.offset),
              request.covered + UInt64(count) <= UInt64(request.length) else {
            throw violation("\(count) bytes at \(offset)", request)
        }
        return Int(offset - request.offset)
    }

    private func violation(_ what: String, _ request: NBDRequest) -> NBDError {
        NBDError(.protocolViolation, "the server sent \(what) for \(request.summary)")
    }
}
