import Glibc

/// Reading: whole ranges into a buffer, streamed ranges through reused buffers, and the allocation map.
extension NBDConnection {
    public func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        guard count >= 0 else { throw NBDError(.invalidRequest, "READ of \(count) bytes at \(offset): a negative length") }
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        return bytes
    }

    /// Fills `buffer` from `offset`, split into pipelined requests of at most the server's maximum.
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        try operation {
            try check(offset: offset, length: UInt64(buffer.count), for: .read)
            try run(pieces(of: UInt64(buffer.count), by: UInt64(pieceLimit(requestSize))) { position, count in
                NBDRequest(.read, offset: offset + UInt64(position), length: UInt32(count),
                           destination: UnsafeMutableRawBufferPointer(rebasing: buffer[position..<(position + count)]))
            })
        }
    }

    /// Reads `length` bytes from `offset` in requests of `requestSize` (default: the connection's),
    /// `depth` in flight, into buffers reused from request to request. `sink` gets each piece with its
    /// offset in completion order, which need not be offset order; the bytes are valid only during the call.
    public func readStream(at offset: UInt64, length: UInt64, requestSize: Int? = nil,
                           sink: (UInt64, UnsafeRawBufferPointer) throws -> Void) throws {
        try operation {
            try check(offset: offset, length: length, for: .read)
            let pieceSize = pieceLimit(requestSize ?? self.requestSize)
            let slots = max(1, depth)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: pieceSize * slots, alignment: 4096)
            defer { buffer.deallocate() }
            var freeSlots = Array((0..<slots).reversed())
            var position: UInt64 = 0
            try pipeline.run(depth: slots, next: {
                guard position < length, let slot = freeSlots.popLast() else { return nil }
                let count = Int(min(UInt64(pieceSize), length - position))
                let start = slot * pieceSize
                let request = NBDRequest(.read, offset: offset + position, length: UInt32(count),
                                         destination: UnsafeMutableRawBufferPointer(rebasing: buffer[start..<(start + count)]))
                request.tag = slot
                position += UInt64(count)
                return request
            }, completed: { request in
                freeSlots.append(request.tag)
                try sink(request.offset, UnsafeRawBufferPointer(request.destination!))
            })
        }
    }

    // MARK: Block status

    /// The base:allocation map of the range: which parts are holes or read as zeroes. Needs structured
    /// replies and the context (both asked for by default).
    public func blockStatus(at offset: UInt64, length: UInt64) throws -> [NBDExtent] {
        try operation {
            try check(offset: offset, length: length, for: .blockStatus)
            guard export.blockStatusContextID != nil else {
                throw NBDError(.unsupported, "block status needs structured replies and the base:allocation context, which were not negotiated with '\(export.name)'")
            }
            var result: [NBDExtent] = []
            var position = offset
            let end = offset + length
            while position < end {
                let request = NBDRequest(.blockStatus, offset: position, length: UInt32(min(end - position, rangeLimit)))
                try runOne(request)
                guard let extents = request.extents, !extents.isEmpty else {
                    throw NBDError(.protocolViolation, "the server answered \(request.summary) without extents")
                }
                for var extent in extents where extent.offset < end {
                    // Without REQ_ONE the last extent may run past the request.
                    extent.length = min(extent.length, end - extent.offset)
                    result.append(extent)
                    position = extent.offset + extent.length
                }
            }
            return result
        }
    }
}
