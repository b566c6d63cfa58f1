/// One option request and its replies during the handshake: framing, validation of every length the
/// server sends, and server errors turned into sentences.
struct NBDOptionReply {
    let type: UInt32
    let payload: [UInt8]

    var isError: Bool { type & NBDWire.replyErrorBit != 0 }
    /// Error replies may carry a human-readable message.
    var message: String { String(decoding: payload, as: UTF8.self) }
}

extension NBDWire.Option: CustomStringConvertible {
    var description: String {
        switch self {
        case .exportName: return "NBD_OPT_EXPORT_NAME"
        case .abort: return "NBD_OPT_ABORT"
        case .list: return "NBD_OPT_LIST"
        case .startTLS: return "NBD_OPT_STARTTLS"
        case .info: return "NBD_OPT_INFO"
        case .go: return "NBD_OPT_GO"
        case .structuredReply: return "NBD_OPT_STRUCTURED_REPLY"
        case .listMetaContext: return "NBD_OPT_LIST_META_CONTEXT"
        case .setMetaContext: return "NBD_OPT_SET_META_CONTEXT"
        case .extendedHeaders: return "NBD_OPT_EXTENDED_HEADERS"
        }
    }
}

extension NBDSocket {
    /// IHAVEOPT, u32 option, u32 length, data.
    func sendOption(_ option: NBDWire.Option, _ data: [UInt8] = []) throws {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + data.count)
        bytes.appendBigEndian(NBDWire.optionMagic)
        bytes.appendBigEndian(option.rawValue)
        bytes.appendBigEndian(UInt32(data.count))
        bytes += data
        try writeAll(bytes, "room to send \(option)")
    }

    /// u64 reply magic, u32 option echoed, u32 reply type, u32 length, payload (at most 64 KiB).
    func readOptionReply(to option: NBDWire.Option) throws -> NBDOptionReply {
        let header = try readExact(count: 20, "the reply to \(option)")
        let magic = header.bigEndian(UInt64.self, at: 0)
        guard magic == NBDWire.optionReplyMagic else {
            throw NBDError(.protocolViolation, "the reply to \(option) starts with 0x\(String(magic, radix: 16)), not the option reply magic")
        }
        let echoed = header.bigEndian(UInt32.self, at: 8)
        guard echoed == option.rawValue else {
            throw NBDError(.protocolViolation, "the server answered option \(echoed) while we asked \(option)")
        }
        let type = header.bigEndian(UInt32.self, at: 12)
        let length = Int(header.bigEndian(UInt32.self, at: 16))
        guard length <= NBDWire.maximumControlPayload else {
            throw NBDError(.protocolViolation, "the reply to \(option) claims \(length) bytes, more than the \(NBDWire.maximumControlPayload) any reply may need")
        }
        return NBDOptionReply(type: type, payload: try readExact(count: length, "the reply to \(option)"))
    }

    /// Best effort, before giving up on a handshake: the spec asks clients to say goodbye with ABORT.
    func abortQuietly() {
        try? sendOption(.abort)
    }
}

extension NBDError {
    /// A server's error reply to an option, as a sentence.
    static func refusal(_ reply: NBDOptionReply, to option: NBDWire.Option, exportName: String) -> NBDError {
        let what: String
        switch reply.type {
        case NBDWire.errUnknownExport: what = "the server has no export named '\(exportName)'"
        case NBDWire.errUnsupported: what = "the server does not support \(option)"
        case NBDWire.errPolicy: what = "the server refused \(option) by policy"
        case NBDWire.errInvalid: what = "the server rejected \(option) as invalid"
        case NBDWire.errPlatform: what = "the server's platform does not support \(option)"
        case NBDWire.errTLSRequired: what = "the server requires TLS, which this client does not support"
        case NBDWire.errShutdown: what = "the server is shutting down"
        case NBDWire.errBlockSizeRequired: what = "the server requires block size negotiation for \(option)"
        case NBDWire.errTooBig: what = "the server found \(option) too big"
        case NBDWire.errExtendedHeadersRequired: what = "the server requires extended headers, which this client does not support"
        default: what = "the server answered \(option) with error 0x\(String(reply.type, radix: 16))"
        }
        let said = reply.message.trimmingWhitespace()
        return NBDError(.refused, said.isEmpty ? what : "\(what) (server says: \(said))")
    }

    static func unexpected(_ reply: NBDOptionReply, to option: NBDWire.Option) -> NBDError {
        NBDError(.protocolViolation, "the server sent reply type \(reply.type) with \(reply.payload.count) bytes to \(option), which does not fit")
    }
}
