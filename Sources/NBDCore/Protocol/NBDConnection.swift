import Glibc

/// A user-space NBD client connection: handshake on connect, then pipelined commands. One operation runs
/// at a time per connection (calls from several threads take turns); inside an operation many requests are
/// in flight. For parallel I/O open several connections to an export with `canMultiConn`.
public final class NBDConnection: BlockReader, @unchecked Sendable {
    public let export: NBDExport
    /// Requests kept in flight by one operation.
    public var depth = 8
    public var size: UInt64 { export.size }

    private let socket: NBDSocket
    private let pipeline: NBDPipeline
    private let lock = Mutex()
    private var closed: String?

    init(socket: NBDSocket, export: NBDExport) {
        self.socket = socket
        self.export = export
        self.pipeline = NBDPipeline(socket: socket, export: export)
    }

    deinit { disconnect() }

    /// Connects to a unix socket (as served by `QemuNBDServer`) and negotiates the export.
    public static func connect(unixSocket path: String, options: NBDHandshakeOptions = NBDHandshakeOptions()) throws -> NBDConnection {
        try connect(socket: NBDSocket.connect(unixSocket: path, timeout: options.timeout), options: options)
    }

    /// Negotiates on an already connected stream socket (TCP, or one end of a socketpair); takes ownership.
    public static func connect(socket file: FileDescriptor, options: NBDHandshakeOptions = NBDHandshakeOptions()) throws -> NBDConnection {
        try connect(socket: NBDSocket(file: file, peer: file.path, timeout: options.timeout), options: options)
    }

    private static func connect(socket: NBDSocket, options: NBDHandshakeOptions) throws -> NBDConnection {
        do {
            guard options.exportName.utf8.count <= 4096 else {
                throw NBDError(.invalidRequest, "export names are at most 4096 bytes")
            }
            var handshake = NBDHandshake(socket: socket, options: options)
            return NBDConnection(socket: socket, export: try handshake.negotiate())
        } catch {
            socket.close()
            throw error
        }
    }

    /// The exports a server offers (NBD_OPT_LIST), then NBD_OPT_ABORT.
    public static func listExports(unixSocket path: String, timeout: Double = 30) throws -> [NBDExportListing] {
        let socket = try NBDSocket.connect(unixSocket: path, timeout: timeout)
        defer { socket.close() }
        var handshake = NBDHandshake(socket: socket, options: NBDHandshakeOptions())
        return try handshake.listExports()
    }

    // MARK: Reads

    public func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        return bytes
    }

    /// Fills `buffer` from `offset`, split into pipelined requests of at most the server's maximum.
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        try operation {
            try check(offset: offset, length: UInt64(buffer.count), for: .read)
            try run(pieces(of: UInt64(buffer.count), by: UInt64(export.requestLimit)) { position, count in
                NBDRequest(.read, offset: offset + UInt64(position), length: UInt32(count),
                           destination: UnsafeMutableRawBufferPointer(rebasing: buffer[position..<(position + count)]))
            })
        }
    }

    /// Reads `length` bytes from `offset` in requests of `requestSize` (bounded by the server's maximum),
    /// `depth` in flight, into buffers reused from request to request. `sink` gets each piece with its
    /// offset in completion order, which need not be offset order; the bytes are valid only during the call.
    public func readStream(at offset: UInt64, length: UInt64, requestSize: Int = 4 << 20,
                           sink: (UInt64, UnsafeRawBufferPointer) throws -> Void) throws {
        try operation {
            try check(offset: offset, length: length, for: .read)
            let pieceSize = min(max(requestSize, Int(export.minimumBlockSize)), Int(export.requestLimit))
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

    // MARK: Writes

    public func write(_ bytes: [UInt8], at offset: UInt64, fua: Bool = false) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset, fua: fua) }
    }

    /// Writes `bytes` at `offset`, split into pipelined requests; `fua` makes each durable before its reply.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, fua: Bool = false) throws {
        try operation {
            try check(offset: offset, length: UInt64(bytes.count), for: .write)
            try requireFUA(fua)
            try run(pieces(of: UInt64(bytes.count), by: UInt64(export.requestLimit)) { position, count in
                NBDRequest(.write, flags: fua ? NBDWire.commandFUA : 0, offset: offset + UInt64(position), length: UInt32(count),
                           payload: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)]))
            })
        }
    }

    /// Makes every write already answered durable. A no-op when the server has no write cache to flush.
    public func flush() throws {
        try operation {
            guard export.transmissionFlags.contains(.sendFlush) else { return }
            try runOne(NBDRequest(.flush))
        }
    }

    /// Tells the server the range is no longer needed (with `--discard=unmap`, qcow2 frees the clusters).
    public func trim(at offset: UInt64, length: UInt64) throws {
        try operation {
            try check(offset: offset, length: length, for: .trim)
            guard export.transmissionFlags.contains(.sendTrim) else {
                throw NBDError(.unsupported, "the export '\(export.name)' does not support TRIM")
            }
            try runRanges(.trim, flags: 0, offset: offset, length: length)
        }
    }

    /// Makes the range read as zeroes; `noHole` asks the server to keep it allocated. Servers without
    /// WRITE_ZEROES get ordinary writes of zeroes.
    public func writeZeroes(at offset: UInt64, length: UInt64, noHole: Bool = false, fua: Bool = false) throws {
        try operation {
            try check(offset: offset, length: length, for: .writeZeroes)
            try requireFUA(fua)
            guard export.transmissionFlags.contains(.sendWriteZeroes) else {
                return try writeZeroBuffers(at: offset, length: length, fua: fua)
            }
            let flags = (noHole ? NBDWire.commandNoHole : 0) | (fua ? NBDWire.commandFUA : 0)
            try runRanges(.writeZeroes, flags: flags, offset: offset, length: length)
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

    // MARK: Ending

    /// Sends NBD_CMD_DISC and closes the socket; the server finishes earlier requests first. Idempotent.
    public func disconnect() {
        lock.withLock {
            guard closed == nil else { return }
            closed = "the connection was disconnected"
            if pipeline.broken == nil { try? pipeline.sendDisconnect() }
            socket.close()
        }
    }

    /// Hands the socket to a new owner (the kernel nbd driver) in blocking mode. Refused if structured
    /// replies were negotiated (the kernel parses simple replies only), or if the connection is broken or
    /// closed; nothing is ever in flight between operations and no reply bytes are buffered here.
    public func takeSocketForKernel() throws -> FileDescriptor {
        try lock.withLock {
            if let closed { throw NBDError(.unsupported, "cannot hand the socket to the kernel: \(closed)") }
            if let broken = pipeline.broken { throw NBDError(.unsupported, "cannot hand a broken connection to the kernel: \(broken.message)") }
            guard !export.structuredReplies else {
                throw NBDError(.unsupported, "cannot hand the socket to the kernel: structured replies were negotiated, and the kernel parses only simple replies (connect with NBDHandshakeOptions.forKernel())")
            }
            guard pipeline.inFlight.isEmpty else { throw NBDError(.unsupported, "cannot hand the socket to the kernel with requests in flight") }
            let file = try socket.releaseBlocking()
            closed = "the socket was handed to the kernel"
            return file
        }
    }

    // MARK: Helpers

    /// Largest TRIM/WRITE_ZEROES/BLOCK_STATUS length per request: lengths are u32 on the wire.
    private var rangeLimit: UInt64 {
        let limit = UInt64(1 << 30)
        return limit - limit % UInt64(export.minimumBlockSize)
    }

    private func operation<R>(_ body: () throws -> R) throws -> R {
        try lock.withLock {
            if let closed { throw NBDError(.unsupported, closed) }
            return try body()
        }
    }

    /// Requests for consecutive pieces of at most `limit` bytes of a `length`-byte range; `make` gets each
    /// piece's position in the range and its size.
    private func pieces(of length: UInt64, by limit: UInt64, _ make: @escaping (Int, Int) -> NBDRequest) -> () -> NBDRequest? {
        var position: UInt64 = 0
        return {
            guard position < length else { return nil }
            let count = min(limit, length - position)
            defer { position += count }
            return make(Int(position), Int(count))
        }
    }

    private func run(_ next: () -> NBDRequest?) throws {
        try pipeline.run(depth: depth, next: next, completed: { _ in })
    }

    private func runOne(_ request: NBDRequest) throws {
        var pending: NBDRequest? = request
        try pipeline.run(depth: 1, next: { defer { pending = nil }; return pending }, completed: { _ in })
    }

    private func runRanges(_ command: NBDCommand, flags: UInt16, offset: UInt64, length: UInt64) throws {
        try run(pieces(of: length, by: rangeLimit) { position, count in
            NBDRequest(command, flags: flags, offset: offset + UInt64(position), length: UInt32(count))
        })
    }

    private func writeZeroBuffers(at offset: UInt64, length: UInt64, fua: Bool) throws {
        let zeroes = [UInt8](repeating: 0, count: Int(min(length, UInt64(export.requestLimit))))
        try zeroes.withUnsafeBytes { zero in
            try run(pieces(of: length, by: UInt64(zero.count)) { position, count in
                NBDRequest(.write, flags: fua ? NBDWire.commandFUA : 0, offset: offset + UInt64(position), length: UInt32(count),
                           payload: UnsafeRawBufferPointer(rebasing: zero[..<count]))
            })
        }
    }

    private func requireFUA(_ fua: Bool) throws {
        if fua && !export.transmissionFlags.contains(.sendFUA) {
            throw NBDError(.unsupported, "the export '\(export.name)' does not support FUA writes; flush instead")
        }
    }

    /// Inside the export, aligned to its minimum block size, and writable for writing commands.
    private func check(offset: UInt64, length: UInt64, for command: NBDCommand) throws {
        guard offset <= export.size, length <= export.size - offset else {
            throw NBDError(.invalidRequest, "\(command) of \(length) bytes at \(offset) lies past the end of the \(export.size)-byte export '\(export.name)'")
        }
        let minimum = UInt64(export.minimumBlockSize)
        guard offset % minimum == 0, length % minimum == 0 else {
            throw NBDError(.invalidRequest, "\(command) of \(length) bytes at \(offset) is not aligned to the export's \(minimum)-byte blocks")
        }
        if export.readOnly && [.write, .trim, .writeZeroes].contains(command) {
            throw NBDError(.unsupported, "the export '\(export.name)' is read-only; \(command) refused")
        }
    }
}
