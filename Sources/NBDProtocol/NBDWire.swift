/// Every NBD wire constant in one place (nbd doc/proto.md), and the big-endian codec the protocol uses.
/// Magics are spelled out in ASCII where they are ASCII.
enum NBDWire {
    // MARK: Handshake

    /// "NBDMAGIC": first 8 bytes of every newstyle greeting.
    static let greetingMagic: UInt64 = 0x4e42_444d_4147_4943
    /// "IHAVEOPT": second greeting word for newstyle servers, and the prefix of every client option.
    static let optionMagic: UInt64 = 0x4948_4156_454f_5054
    /// The oldstyle greeting's second word (no options at all); we refuse such servers.
    static let oldstyleMagic: UInt64 = 0x0000_4202_8186_1253
    /// Prefix of every option reply (not ASCII).
    static let optionReplyMagic: UInt64 = 0x0003_e889_0455_65a9

    /// Server handshake flags (u16).
    static let flagFixedNewstyle: UInt16 = 1 << 0
    static let flagNoZeroes: UInt16 = 1 << 1
    /// Client flags (u32), echoing the ones we accept.
    static let clientFixedNewstyle: UInt32 = 1 << 0
    static let clientNoZeroes: UInt32 = 1 << 1

    enum Option: UInt32 {
        case exportName = 1, abort = 2, list = 3, startTLS = 5, info = 6, go = 7
        case structuredReply = 8, listMetaContext = 9, setMetaContext = 10, extendedHeaders = 11
    }

    /// Option reply types; errors have bit 31 set.
    static let replyAck: UInt32 = 1
    static let replyServer: UInt32 = 2
    static let replyInfo: UInt32 = 3
    static let replyMetaContext: UInt32 = 4
    static let replyErrorBit: UInt32 = 1 << 31
    static let errUnsupported: UInt32 = replyErrorBit | 1
    static let errPolicy: UInt32 = replyErrorBit | 2
    static let errInvalid: UInt32 = replyErrorBit | 3
    static let errPlatform: UInt32 = replyErrorBit | 4
    static let errTLSRequired: UInt32 = replyErrorBit | 5
    static let errUnknownExport: UInt32 = replyErrorBit | 6
    static let errShutdown: UInt32 = replyErrorBit | 7
    static let errBlockSizeRequired: UInt32 = replyErrorBit | 8
    static let errTooBig: UInt32 = replyErrorBit | 9
    static let errExtendedHeadersRequired: UInt32 = replyErrorBit | 10

    /// Info types inside INFO/GO replies (u16).
    static let infoExport: UInt16 = 0
    static let infoName: UInt16 = 1
    static let infoDescription: UInt16 = 2
    static let infoBlockSize: UInt16 = 3

    /// The meta context that reports holes and zeroes through BLOCK_STATUS.
    static let baseAllocation = "base:allocation"

    // MARK: Transmission

    /// Request header (28 bytes): magic, u16 flags, u16 type, u64 cookie, u64 offset, u32 length.
    static let requestMagic: UInt32 = 0x2560_9513
    static let requestHeaderSize = 28
    /// Simple reply (16 bytes): magic, u32 error, u64 cookie.
    static let simpleReplyMagic: UInt32 = 0x6744_6698
    static let simpleReplySize = 16
    /// Structured reply chunk (20 bytes): magic, u16 flags, u16 type, u64 cookie, u32 length.
    static let structuredReplyMagic: UInt32 = 0x668e_33ef
    static let structuredReplySize = 20
    /// Chunk flag: the last chunk of this reply.
    static let chunkDone: UInt16 = 1 << 0

    static let chunkNone: UInt16 = 0
    static let chunkOffsetData: UInt16 = 1
    static let chunkOffsetHole: UInt16 = 2
    static let chunkBlockStatus: UInt16 = 5
    static let chunkError: UInt16 = 0x8001
    static let chunkErrorOffset: UInt16 = 0x8002
    /// Unknown chunk types with this bit fail only their request; any other unknown type ends the connection.
    static let chunkErrorBit: UInt16 = 0x8000

    /// Command flags (u16).
    static let commandFUA: UInt16 = 1 << 0
    static let commandNoHole: UInt16 = 1 << 1
    static let commandDontFragment: UInt16 = 1 << 2
    static let commandRequestOne: UInt16 = 1 << 3
    static let commandFastZero: UInt16 = 1 << 4

    /// Payloads above this need the server's explicit BLOCK_SIZE maximum; qemu-nbd hangs up on larger writes.
    static let defaultMaximumPayload: UInt32 = 32 << 20
    /// Bound on what we accept for any handshake reply or non-data chunk: names and messages are ≤ 4096
    /// bytes by the spec, so this only stops a hostile server from making us allocate without limit.
    static let maximumControlPayload = 64 << 10
}

/// Transmission commands (u16 request type).
public enum NBDCommand: UInt16, Sendable, CustomStringConvertible {
    case read = 0, write = 1, disconnect = 2, flush = 3, trim = 4, cache = 5, writeZeroes = 6, blockStatus = 7

    public var description: String {
        switch self {
        case .read: return "READ"
        case .write: return "WRITE"
        case .disconnect: return "DISC"
        case .flush: return "FLUSH"
        case .trim: return "TRIM"
        case .cache: return "CACHE"
        case .writeZeroes: return "WRITE_ZEROES"
        case .blockStatus: return "BLOCK_STATUS"
        }
    }
}

/// Big-endian field access on byte arrays and raw buffers.
extension UnsafeRawBufferPointer {
    func bigEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension Array where Element == UInt8 {
    func bigEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        withUnsafeBytes { $0.bigEndian(type, at: offset) }
    }

    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeMutableRawBufferPointer {
    func storeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
    }
}
