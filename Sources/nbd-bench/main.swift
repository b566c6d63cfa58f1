// Reads a whole NBD export to a null sink with our client, for make bench (scripts/bench/nbd-read.sh runs it
// side by side with nbdcopy). Each of N connections reads one slice with pipelined requests.
import Glibc
import NBDCore

struct BenchOptions {
    var socket = ""
    var exportName = ""
    var connections = 1
    var requestSize = 256 << 10
    var depth = 16

    static let usage = "usage: nbd-bench --socket PATH [--export NAME] [--connections N] [--request-kib N] [--depth N]"

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { throw BenchError("\(flag) needs a value\n\(BenchOptions.usage)") }
            switch flag {
            case "--socket": socket = value
            case "--export": exportName = value
            case "--connections": connections = try positive(value, flag)
            case "--request-kib": requestSize = try positive(value, flag) << 10
            case "--depth": depth = try positive(value, flag)
            default: throw BenchError("unknown option \(flag)\n\(BenchOptions.usage)")
            }
        }
        if socket.isEmpty { throw BenchError(BenchOptions.usage) }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func positive(_ text: String, _ flag: String) throws -> Int {
    guard let value = Int(text), value > 0 else { throw BenchError("\(flag) wants a positive number, not '\(text)'") }
    return value
}

/// Runs `body` on its own thread; `join()` waits and rethrows what it threw.
final class Worker {
    private var thread = pthread_t()
    private let body: () throws -> Void
    private var failure: Error?

    init(_ body: @escaping () throws -> Void) {
        self.body = body
        pthread_create(&thread, nil, { raw in
            let worker = Unmanaged<Worker>.fromOpaque(raw!).takeUnretainedValue()
            do { try worker.body() } catch { worker.failure = error }
            return nil
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    func join() throws {
        pthread_join(thread, nil)
        if let failure { throw failure }
    }
}

func run(_ options: BenchOptions) throws {
    let handshake = NBDHandshakeOptions(exportName: options.exportName)
    let start = Monotonic.now
    let first = try NBDConnection.connect(unixSocket: options.socket, options: handshake)
    if options.connections > 1 && !first.export.canMultiConn {
        throw BenchError("the server does not allow several connections (no CAN_MULTI_CONN); start qemu-nbd with --shared=0")
    }
    let connections = try [first] + (1..<options.connections).map { _ in try NBDConnection.connect(unixSocket: options.socket, options: handshake) }
    let size = first.size
    // Slices in whole requests, so no connection reads a short piece in the middle.
    let unit = UInt64(options.requestSize)
    let perConnection = (size / UInt64(options.connections) + unit - 1) / unit * unit
    var totals = [UInt64](repeating: 0, count: connections.count)
    let totalsLock = Mutex()
    let workers = connections.enumerated().map { index, connection in
        Worker {
            connection.depth = options.depth
            let offset = min(size, UInt64(index) * perConnection)
            let length = min(perConnection, size - offset)
            var bytes: UInt64 = 0
            try connection.readStream(at: offset, length: length, requestSize: options.requestSize) { _, piece in
                bytes += UInt64(piece.count)
            }
            totalsLock.withLock { totals[index] = bytes }
        }
    }
    for worker in workers { try worker.join() }
    connections.forEach { $0.disconnect() }
    let seconds = Monotonic.now - start
    let read = totals.reduce(0, +)
    guard read == size else { throw BenchError("read \(read) bytes of \(size)") }
    let mibPerSecond = Double(size) / 1_048_576 / seconds
    fputs("nbd-bench: \(options.connections) connection(s), \(size >> 20) MiB in \(seconds) s\n", stderr)
    print(String(Int(mibPerSecond.rounded())))
}

do {
    try run(try BenchOptions(Array(CommandLine.arguments.dropFirst())))
} catch {
    fputs("nbd-bench: \(error)\n", stderr)
    exit(1)
}
