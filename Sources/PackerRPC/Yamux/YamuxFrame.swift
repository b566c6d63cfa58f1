/// One yamux frame header (hashicorp/yamux spec): 12 bytes, big-endian.
///   version u8 (0) | type u8 | flags u16 | stream id u32 | length u32
/// `length` is the payload size for Data, the window delta for WindowUpdate, the opaque value for Ping
/// and the error code for GoAway.
struct YamuxFrame: Equatable {
    enum Kind: UInt8 { case data = 0, windowUpdate = 1, ping = 2, goAway = 3 }

    struct Flags: OptionSet, Equatable {
        let rawValue: UInt16
        static let syn = Flags(rawValue: 1)
        static let ack = Flags(rawValue: 2)
        static let fin = Flags(rawValue: 4)
        static let rst = Flags(rawValue: 8)
    }

    enum GoAwayCode: UInt32 { case normal = 0, protocolError = 1, internalError = 2 }

    static let headerSize = 12
    /// Each direction of each stream starts with this window (Go's initialStreamWindow).
    static let initialWindow: UInt32 = 256 * 1024

    var kind: Kind
    var flags: Flags
    var streamID: UInt32
    var length: UInt32

    var header: [UInt8] {
        var bytes: [UInt8] = [0, kind.rawValue, UInt8(flags.rawValue >> 8), UInt8(flags.rawValue & 0xff)]
        for value in [streamID, length] {
            bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
        }
        return bytes
    }

    init(_ kind: Kind, _ flags: Flags = [], stream: UInt32, length: UInt32) {
        self.kind = kind
        self.flags = flags
        self.streamID = stream
        self.length = length
    }

    init(header bytes: [UInt8]) throws {
        precondition(bytes.count == Self.headerSize)
        guard bytes[0] == 0 else { throw YamuxError.protocolViolation("unsupported yamux version \(bytes[0])") }
        guard let kind = Kind(rawValue: bytes[1]) else {
            throw YamuxError.protocolViolation("unknown yamux frame type \(bytes[1])")
        }
        func word(_ at: Int) -> UInt32 { bytes[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        self.init(kind, Flags(rawValue: UInt16(bytes[2]) << 8 | UInt16(bytes[3])), stream: word(4), length: word(8))
    }
}
