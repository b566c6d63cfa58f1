import HostSystem
/// The fixed-newstyle handshake as named phases, one function each, in libnbd's order:
/// greeting → client flags → STRUCTURED_REPLY → SET_META_CONTEXT → GO (→ EXPORT_NAME on ERR_UNSUP).
/// Every length from the server is checked; errors become sentences.
struct NBDHandshake {
    enum Phase {
        case greeting, clientFlags, structuredReply, setMetaContext, go, exportName
        case finished(NBDExport)
    }

    let socket: NBDSocket
    let options: NBDHandshakeOptions
    private var fixedNewstyle = false
    private var noZeroes = false
    private var structuredReplies = false
    private var metaContexts: [String: UInt32] = [:]

    init(socket: NBDSocket, options: NBDHandshakeOptions) {
        self.socket = socket
        self.options = options
    }

    /// Runs the phases until an export is agreed.
    mutating func negotiate() throws -> NBDExport {
        var phase = Phase.greeting
        while true {
            switch phase {
            case .greeting: phase = try readGreeting()
            case .clientFlags: phase = try sendClientFlags()
            case .structuredReply: phase = try negotiateStructuredReply()
            case .setMetaContext: phase = try setMetaContext()
            case .go: phase = try go()
            case .exportName: phase = try exportName()
            case .finished(let export): return export
            }
        }
    }

    /// Greeting and client flags, then NBD_OPT_LIST and NBD_OPT_ABORT.
    mutating func listExports() throws -> [NBDExportListing] {
        _ = try readGreeting()
        _ = try sendClientFlags()
        guard fixedNewstyle else { throw NBDError(.unsupported, "the server at \(socket.peer) cannot list exports (no fixed newstyle)") }
        try socket.sendOption(.list)
        var exports: [NBDExportListing] = []
        var listed = 0
        while true {
            let reply = try socket.readOptionReply(to: .list)
            if reply.type == NBDWire.replyAck { break }
            if reply.isError {
                socket.abortQuietly()
                throw NBDError.refusal(reply, to: .list, exportName: "")
            }
            guard reply.type == NBDWire.replyServer else { throw NBDError.unexpected(reply, to: .list) }
            listed += reply.payload.count
            guard listed <= 16 << 20 else { throw NBDError(.protocolViolation, "the server's export list exceeds 16 MiB") }
            let name = try lengthPrefixedString(reply.payload, at: 0, in: .list)
            let rest = reply.payload.dropFirst(4 + name.utf8.count)
            exports.append(NBDExportListing(name: name, description: rest.isEmpty ? nil : String(decoding: rest, as: UTF8.self)))
        }
        try socket.sendOption(.abort)
        return exports
    }

    // MARK: Phases

    /// S: "NBDMAGIC" "IHAVEOPT" u16 handshake flags.
    private mutating func readGreeting() throws -> Phase {
        let greeting = try socket.readExact(count: 16, "the server greeting")
        guard greeting.bigEndian(UInt64.self, at: 0) == NBDWire.greetingMagic else {
            throw NBDError(.protocolViolation, "\(socket.peer) is not an NBD server (the greeting lacks NBDMAGIC)")
        }
        let second = greeting.bigEndian(UInt64.self, at: 8)
        if second == NBDWire.oldstyleMagic {
            throw NBDError(.unsupported, "the server at \(socket.peer) speaks only the oldstyle protocol, which this client does not support")
        }
        guard second == NBDWire.optionMagic else {
            throw NBDError(.protocolViolation, "the greeting of \(socket.peer) has 0x\(String(second, radix: 16)) where IHAVEOPT belongs")
        }
        let flags = try socket.readExact(count: 2, "the handshake flags").bigEndian(UInt16.self, at: 0)
        fixedNewstyle = flags & NBDWire.flagFixedNewstyle != 0
        noZeroes = flags & NBDWire.flagNoZeroes != 0
        return .clientFlags
    }

    /// C: u32 flags, only those the server offered.
    private mutating func sendClientFlags() throws -> Phase {
        var flags: UInt32 = 0
        if fixedNewstyle { flags |= NBDWire.clientFixedNewstyle }
        if noZeroes { flags |= NBDWire.clientNoZeroes }
        var bytes: [UInt8] = []
        bytes.appendBigEndian(flags)
        try socket.writeAll(bytes, "room to send the client flags")
        // Without fixed newstyle a server may drop the connection on any option it does not know.
        guard fixedNewstyle else { return .exportName }
        if options.structuredReplies { return .structuredReply }
        return options.useGo ? .go : .exportName
    }

    private mutating func negotiateStructuredReply() throws -> Phase {
        try socket.sendOption(.structuredReply)
        let reply = try socket.readOptionReply(to: .structuredReply)
        if reply.type == NBDWire.replyAck {
            guard reply.payload.isEmpty else { throw NBDError.unexpected(reply, to: .structuredReply) }
            structuredReplies = true
        } else if reply.isError {
            Log.debug("nbd: \(NBDError.refusal(reply, to: .structuredReply, exportName: options.exportName).message); using simple replies")
        } else {
            throw NBDError.unexpected(reply, to: .structuredReply)
        }
        if structuredReplies && options.blockStatus { return .setMetaContext }
        return options.useGo ? .go : .exportName
    }

    /// Asks for base:allocation on the export we will GO to; the server answers with its id, or nothing.
    private mutating func setMetaContext() throws -> Phase {
        var data = exportNameField()
        data.appendBigEndian(UInt32(1))
        data.appendBigEndian(UInt32(NBDWire.baseAllocation.utf8.count))
        data += Array(NBDWire.baseAllocation.utf8)
        try socket.sendOption(.setMetaContext, data)
        for _ in 0..<1024 {
            let reply = try socket.readOptionReply(to: .setMetaContext)
            if reply.type == NBDWire.replyAck { return options.useGo ? .go : .exportName }
            if reply.isError {
                Log.debug("nbd: \(NBDError.refusal(reply, to: .setMetaContext, exportName: options.exportName).message); no block status")
                return options.useGo ? .go : .exportName
            }
            guard reply.type == NBDWire.replyMetaContext, reply.payload.count > 4 else {
                throw NBDError.unexpected(reply, to: .setMetaContext)
            }
            let name = String(decoding: reply.payload.dropFirst(4), as: UTF8.self)
            guard name == NBDWire.baseAllocation else {
                throw NBDError(.protocolViolation, "the server selected meta context '\(name.prefix(100))', which we did not ask for")
            }
            metaContexts[name] = reply.payload.bigEndian(UInt32.self, at: 0)
        }
        throw NBDError(.protocolViolation, "the server sent more than 1024 replies to one meta context query")
    }

    /// GO with BLOCK_SIZE and NAME; INFO replies in any order, unknown ones skipped, then ACK.
    private mutating func go() throws -> Phase {
        var data = exportNameField()
        let wanted = [NBDWire.infoBlockSize, NBDWire.infoName]
        data.appendBigEndian(UInt16(wanted.count))
        wanted.forEach { data.appendBigEndian($0) }
        try socket.sendOption(.go, data)
        var export = NBDExport(name: options.exportName, size: 0, transmissionFlags: [], structuredReplies: structuredReplies,
                               metaContexts: metaContexts)
        var sawExport = false
        for _ in 0..<1024 {
            let reply = try socket.readOptionReply(to: .go)
            if reply.type == NBDWire.replyAck {
                guard sawExport else { throw NBDError(.protocolViolation, "the server finished NBD_OPT_GO without sending the export size") }
                return .finished(export)
            }
            if reply.type == NBDWire.errUnsupported { return .exportName }
            if reply.isError {
                socket.abortQuietly()
                throw NBDError.refusal(reply, to: .go, exportName: options.exportName)
            }
            guard reply.type == NBDWire.replyInfo, reply.payload.count >= 2 else { throw NBDError.unexpected(reply, to: .go) }
            sawExport = try apply(info: reply.payload, to: &export) || sawExport
        }
        throw NBDError(.protocolViolation, "the server sent more than 1024 replies to NBD_OPT_GO")
    }

    /// EXPORT_NAME has no error reply: an unknown export just closes the connection.
    private mutating func exportName() throws -> Phase {
        try socket.sendOption(.exportName, Array(options.exportName.utf8))
        let reply: [UInt8]
        do {
            reply = try socket.readExact(count: 10, "the export size")
        } catch let error as NBDError where error.kind == .closed {
            throw NBDError(.refused, "the server at \(socket.peer) closed the connection on NBD_OPT_EXPORT_NAME: it probably has no export named '\(options.exportName)'")
        }
        if !noZeroes { try socket.discard(count: 124, "the export padding") }
        var export = NBDExport(name: options.exportName, size: 0, transmissionFlags: [], structuredReplies: structuredReplies,
                               metaContexts: metaContexts, negotiatedWithGo: false)
        try applyExport(size: reply.bigEndian(UInt64.self, at: 0), flags: reply.bigEndian(UInt16.self, at: 8), to: &export)
        return .finished(export)
    }

    // MARK: Fields

    /// Returns whether this was the mandatory EXPORT info.
    private func apply(info: [UInt8], to export: inout NBDExport) throws -> Bool {
        let type = info.bigEndian(UInt16.self, at: 0)
        switch type {
        case NBDWire.infoExport:
            guard info.count == 12 else { throw NBDError(.protocolViolation, "NBD_INFO_EXPORT has \(info.count) bytes, not 12") }
            try applyExport(size: info.bigEndian(UInt64.self, at: 2), flags: info.bigEndian(UInt16.self, at: 10), to: &export)
            return true
        case NBDWire.infoBlockSize:
            guard info.count == 14 else { throw NBDError(.protocolViolation, "NBD_INFO_BLOCK_SIZE has \(info.count) bytes, not 14") }
            try applyBlockSizes(minimum: info.bigEndian(UInt32.self, at: 2), preferred: info.bigEndian(UInt32.self, at: 6),
                                maximum: info.bigEndian(UInt32.self, at: 10), to: &export)
        case NBDWire.infoName:
            export.name = String(decoding: info.dropFirst(2), as: UTF8.self)
        case NBDWire.infoDescription:
            export.description = String(decoding: info.dropFirst(2), as: UTF8.self)
        default:
            break
        }
        return false
    }

    private func applyExport(size: UInt64, flags: UInt16, to export: inout NBDExport) throws {
        guard size <= UInt64(Int64.max) else { throw NBDError(.protocolViolation, "the server claims an export of \(size) bytes") }
        export.size = size
        // Without HAS_FLAGS the other bits mean nothing.
        export.transmissionFlags = flags & 1 != 0 ? NBDTransmissionFlags(rawValue: flags) : []
    }

    private func applyBlockSizes(minimum: UInt32, preferred: UInt32, maximum: UInt32, to export: inout NBDExport) throws {
        let valid = minimum.nonzeroBitCount == 1 && minimum <= 65536
            && preferred.nonzeroBitCount == 1 && preferred >= minimum
            && maximum >= minimum && (maximum % minimum == 0 || maximum == UInt32.max)
        guard valid else {
            throw NBDError(.protocolViolation, "the server's block sizes (minimum \(minimum), preferred \(preferred), maximum \(maximum)) are inconsistent")
        }
        export.minimumBlockSize = minimum
        export.preferredBlockSize = preferred
        export.maximumPayload = maximum
    }

    /// u32 length + UTF-8 name, as GO and SET_META_CONTEXT want it.
    private func exportNameField() -> [UInt8] {
        var data: [UInt8] = []
        data.appendBigEndian(UInt32(options.exportName.utf8.count))
        data += Array(options.exportName.utf8)
        return data
    }

    private func lengthPrefixedString(_ bytes: [UInt8], at offset: Int, in option: NBDWire.Option) throws -> String {
        guard bytes.count >= offset + 4 else { throw NBDError(.protocolViolation, "a reply to \(option) is too short for its name length") }
        let length = Int(bytes.bigEndian(UInt32.self, at: offset))
        guard length <= bytes.count - offset - 4 else {
            throw NBDError(.protocolViolation, "a reply to \(option) names \(length) bytes but carries \(bytes.count - offset - 4)")
        }
        return String(decoding: bytes[(offset + 4)..<(offset + 4 + length)], as: UTF8.self)
    }
}
