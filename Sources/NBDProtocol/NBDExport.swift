/// Transmission flags (u16) the server sends with the export; passed unchanged to the kernel on attach.
public struct NBDTransmissionFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let hasFlags = NBDTransmissionFlags(rawValue: 1 << 0)
    public static let readOnly = NBDTransmissionFlags(rawValue: 1 << 1)
    public static let sendFlush = NBDTransmissionFlags(rawValue: 1 << 2)
    public static let sendFUA = NBDTransmissionFlags(rawValue: 1 << 3)
    public static let rotational = NBDTransmissionFlags(rawValue: 1 << 4)
    public static let sendTrim = NBDTransmissionFlags(rawValue: 1 << 5)
    public static let sendWriteZeroes = NBDTransmissionFlags(rawValue: 1 << 6)
    public static let sendDontFragment = NBDTransmissionFlags(rawValue: 1 << 7)
    /// Flushes and FUA writes on one connection are visible on all: several connections may be used.
    public static let canMultiConn = NBDTransmissionFlags(rawValue: 1 << 8)
    public static let sendResize = NBDTransmissionFlags(rawValue: 1 << 9)
    public static let sendCache = NBDTransmissionFlags(rawValue: 1 << 10)
    public static let sendFastZero = NBDTransmissionFlags(rawValue: 1 << 11)
}

/// What the handshake agreed on for one export: a plain value, so the kernel attach code can reuse it (size,
/// flags, block size) for a socket obtained with `NBDConnection.takeSocketForKernel()`.
public struct NBDExport: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var size: UInt64
    public var transmissionFlags: NBDTransmissionFlags
    /// Offsets and lengths must be multiples of this (1 = any).
    public var minimumBlockSize: UInt32 = 1
    /// Requests of this size and alignment are served most efficiently.
    public var preferredBlockSize: UInt32 = 4096
    /// Largest READ/WRITE payload the server accepts.
    public var maximumPayload: UInt32 = NBDWire.defaultMaximumPayload
    /// Whether the server agreed to structured replies (then the socket cannot go to the kernel).
    public var structuredReplies: Bool
    /// Agreed meta contexts by name ("base:allocation") with the id the server chose.
    public var metaContexts: [String: UInt32]
    /// Whether the export was obtained with NBD_OPT_GO (false: the EXPORT_NAME fallback).
    public var negotiatedWithGo: Bool

    public var readOnly: Bool { transmissionFlags.contains(.readOnly) }
    public var canMultiConn: Bool { transmissionFlags.contains(.canMultiConn) }
    public var blockStatusContextID: UInt32? { metaContexts[NBDWire.baseAllocation] }

    public init(name: String, size: UInt64, transmissionFlags: NBDTransmissionFlags, structuredReplies: Bool = false,
                metaContexts: [String: UInt32] = [:], negotiatedWithGo: Bool = true) {
        self.name = name
        self.size = size
        self.transmissionFlags = transmissionFlags
        self.structuredReplies = structuredReplies
        self.metaContexts = metaContexts
        self.negotiatedWithGo = negotiatedWithGo
    }

    /// The largest READ/WRITE we send: the server's maximum, never more than 32 MiB (bounds our buffers),
    /// rounded down to the minimum block size.
    var requestLimit: UInt32 {
        let limit = min(maximumPayload, NBDWire.defaultMaximumPayload)
        return max(limit - limit % minimumBlockSize, minimumBlockSize)
    }
}

/// One name from NBD_OPT_LIST.
public struct NBDExportListing: Sendable, Equatable {
    public var name: String
    public var description: String?

    public init(name: String, description: String? = nil) {
        self.name = name
        self.description = description
    }
}

/// What to ask for in the handshake.
public struct NBDHandshakeOptions: Sendable {
    public var exportName = ""
    /// Ask for structured replies (sparse reads, error messages, BLOCK_STATUS). Must be false for a
    /// connection whose socket will be handed to the kernel.
    public var structuredReplies = true
    /// Ask for the base:allocation context (holes and zeroes); needs structured replies.
    public var blockStatus = true
    /// Use NBD_OPT_GO (falling back to EXPORT_NAME on ERR_UNSUP); false sends EXPORT_NAME directly.
    public var useGo = true
    /// Longest wait for the server to make progress, in the handshake and for every reply.
    public var timeout = 30.0

    public init(exportName: String = "") {
        self.exportName = exportName
    }

    /// For a socket that goes to the kernel: plain replies only.
    public static func forKernel(exportName: String = "") -> NBDHandshakeOptions {
        var options = NBDHandshakeOptions(exportName: exportName)
        options.structuredReplies = false
        options.blockStatus = false
        return options
    }
}
