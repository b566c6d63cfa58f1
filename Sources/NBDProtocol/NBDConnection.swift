import Glibc
import HostSystem
import ImageLayout
import Synchronization

/// A user-space NBD client connection: handshake on connect, then pipelined commands. One operation runs
/// at a time per connection (calls from several threads take turns); inside an operation many requests are
/// in flight. For parallel I/O open several connections to an export with `canMultiConn`.
// @unchecked: `socket` and `pipeline` are not Sendable and are used only inside `closed.withLock` (every
// operation, disconnect, the hand-over), which the compiler cannot relate to them; `depth` and `requestSize`
// are set by the owner before the connection is shared.
public final class NBDConnection: BlockReader, @unchecked Sendable {
    public let export: NBDExport
    /// Requests kept in flight by one operation; qemu-nbd 7.2 works on at most 16 per client at a time.
    public var depth = 16
    /// READ/WRITE payload per request (capped by the server's maximum). qemu-nbd 7.2 serves 256 KiB requests
    /// several times faster than 4 MiB ones (measured by scripts/bench/nbd-read.sh).
    public var requestSize = 256 << 10
    public var size: UInt64 { export.size }

    let socket: NBDSocket
    let pipeline: NBDPipeline
    /// Why no more operations run (disconnected, handed to the kernel); the lock every operation holds.
    let closed = Mutex<String?>(nil)

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

    // MARK: Ending

    /// Sends NBD_CMD_DISC and closes the socket; the server finishes earlier requests first. Idempotent.
    public func disconnect() {
        closed.withLock { closed in
            guard closed == nil else { return }
            closed = "the connection was disconnected"
            if pipeline.broken == nil { pipeline.sendDisconnect() }
            socket.close()
        }
    }

    /// Hands the socket to a new owner (the kernel nbd driver) in blocking mode. Refused if structured
    /// replies were negotiated (the kernel parses simple replies only), or if the connection is broken or
    /// closed; nothing is ever in flight between operations and no reply bytes are buffered here.
    public func takeSocketForKernel() throws -> FileDescriptor {
        try closed.withLock { closed in
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
    var rangeLimit: UInt64 {
        let limit = UInt64(1 << 30)
        return limit - limit % UInt64(export.minimumBlockSize)
    }

    /// `size` rounded down to the minimum block size, at least one block, at most the server's maximum.
    func pieceLimit(_ size: Int) -> Int {
        let minimum = Int(export.minimumBlockSize)
        return min(max(size - size % minimum, minimum), Int(export.requestLimit))
    }

    func operation<R>(_ body: () throws -> R) throws -> R {
        try closed.withLock { closed in
            if let closed { throw NBDError(.closed, closed) }
            return try body()
        }
    }

    /// Requests for consecutive pieces of at most `limit` bytes of a `length`-byte range; `make` gets each
    /// piece's position in the range and its size.
    func pieces(of length: UInt64, by limit: UInt64, _ make: @escaping (Int, Int) -> NBDRequest) -> () -> NBDRequest? {
        var position: UInt64 = 0
        return {
            guard position < length else { return nil }
            let count = min(limit, length - position)
            defer { position += count }
            return make(Int(position), Int(count))
        }
    }

    func run(_ next: () -> NBDRequest?) throws {
        try pipeline.run(depth: depth, next: next, completed: { _ in })
    }

    func runOne(_ request: NBDRequest) throws {
        var pending: NBDRequest? = request
        try pipeline.run(depth: 1, next: { defer { pending = nil }; return pending }, completed: { _ in })
    }

    /// Inside the export, aligned to its minimum block size, and writable for writing commands.
    func check(offset: UInt64, length: UInt64, for command: NBDCommand) throws {
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
