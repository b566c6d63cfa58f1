/// Msgpack input from a yamux stream: buffered, and growing a value's bytes only as they arrive, so a
/// claimed length never decides an allocation.
struct StreamInput: ByteInput {
    let stream: YamuxStream
    private var buffer: [UInt8] = []
    private var index = 0

    init(_ stream: YamuxStream) { self.stream = stream }

    /// True at a clean end of stream (the peer closed between messages).
    mutating func atEnd() throws -> Bool {
        if index < buffer.count { return false }
        return try !refill()
    }

    mutating func readByte() throws -> UInt8 {
        if index == buffer.count, try !refill() { throw MsgPackError.truncated }
        defer { index += 1 }
        return buffer[index]
    }

    mutating func read(count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            if index == buffer.count, try !refill() { throw MsgPackError.truncated }
            let take = min(count - out.count, buffer.count - index)
            out += buffer[index..<index + take]
            index += take
        }
        return out
    }

    private mutating func refill() throws -> Bool {
        buffer = try stream.read(max: 64 * 1024)
        index = 0
        return !buffer.isEmpty
    }
}
