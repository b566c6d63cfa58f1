/// Where a decoder takes its bytes from: a complete buffer, or a stream that blocks for more.
///
/// `read(count:)` must never allocate `count` bytes up front from an untrusted length: a buffer checks
/// the bytes it has, a stream grows its result only as data arrives.
public protocol ByteInput {
    mutating func readByte() throws -> UInt8
    mutating func read(count: Int) throws -> [UInt8]
}

/// A complete message in memory; reading past its end throws `MsgPackError.truncated`.
public struct BufferInput: ByteInput {
    public let bytes: [UInt8]
    public private(set) var position: Int

    public init(_ bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    public var remaining: Int { bytes.count - position }

    public mutating func readByte() throws -> UInt8 {
        guard position < bytes.count else { throw MsgPackError.truncated }
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func read(count: Int) throws -> [UInt8] {
        guard count >= 0, count <= remaining else { throw MsgPackError.truncated }
        defer { position += count }
        return Array(bytes[position..<position + count])
    }
}
