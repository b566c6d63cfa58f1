// Reads a whole NBD export to a null sink with our client, for make bench (scripts/bench/nbd-read.sh runs it
// side by side with nbdcopy). Each of N connections reads one slice with pipelined requests.
import Glibc
import NBDCore

struct BenchOptions: Sendable {
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
    connections.forEach { $0.depth = options.depth }
    // The slices cover the export, so every connection reading its whole slice reads all of it.
    let workers = try connections.enumerated().map { index, connection in
        try HostThread(name: "nbd-bench reader \(index)") { [requestSize = options.requestSize] in
            let offset = min(size, UInt64(index) * perConnection)
            let length = min(perConnection, size - offset)
            var bytes: UInt64 = 0
            try connection.readStream(at: offset, length: length, requestSize: requestSize) { _, piece in
                bytes += UInt64(piece.count)
            }
            guard bytes == length else { throw BenchError("connection \(index) read \(bytes) bytes of \(length)") }
        }
    }
    let failures = workers.compactMap { $0.join() }
    connections.forEach { $0.disconnect() }
    if let failure = failures.first { throw failure }
    let seconds = Monotonic.now - start
    let mibPerSecond = Double(size) / 1_048_576 / seconds
    StandardStream.error("nbd-bench: \(options.connections) connection(s), \(size >> 20) MiB in \(seconds) s\n")
    print(String(Int(mibPerSecond.rounded())))
}

do {
    try run(try BenchOptions(Array(CommandLine.arguments.dropFirst())))
} catch {
    StandardStream.error("nbd-bench: \(error)\n")
    exit(1)
}
