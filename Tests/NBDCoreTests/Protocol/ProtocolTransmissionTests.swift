import Dispatch
import Glibc
import NBDCore
import Synchronization
import Testing
import TestSupport

/// Commands against a real qemu-nbd, checked by reading back and with `qemu-img compare`.
@Suite(.enabled(if: ProtocolFixture.qemuNBDMissing == nil, "\(ProtocolFixture.qemuNBDMissing ?? "")"), .serialized, .timeLimit(.minutes(2)))
struct ProtocolTransmissionTests {
    static let size = 64 << 20

    /// The same commands on a qcow2 and a raw image; both must read back as the in-memory model says, and
    /// qemu-img must find the two images identical.
    @Test func roundTripThroughQcow2MatchesRaw() throws {
        let dir = try TemporaryDirectory()
        let qcow2 = try ProtocolFixture.makeImage(dir, "disk.qcow2")
        let raw = try ProtocolFixture.makeImage(dir, "disk.raw", format: "raw")
        var model = [UInt8](repeating: 0, count: Self.size)
        for (image, format) in [(qcow2, "qcow2"), (raw, "raw")] {
            model = [UInt8](repeating: 0, count: Self.size)
            let server = try ProtocolFixture.serve(image, format: format) { $0.discard = .unmap }
            defer { try? server.stop() }
            let connection = try NBDConnection.connect(unixSocket: server.socketPath)
            // The model is updated with memcpy/memset: element-wise Array operations on 64 MiB crawl in debug builds.
            func write(_ bytes: [UInt8], at offset: Int, fua: Bool = false) throws {
                try connection.write(bytes, at: UInt64(offset), fua: fua)
                model.withUnsafeMutableBytes { target in bytes.withUnsafeBytes { _ = memcpy(target.baseAddress! + offset, $0.baseAddress!, $0.count) } }
            }
            func zeroes(at offset: Int, count: Int, noHole: Bool = false, fua: Bool = false) throws {
                try connection.writeZeroes(at: UInt64(offset), length: UInt64(count), noHole: noHole, fua: fua)
                model.withUnsafeMutableBytes { _ = memset($0.baseAddress! + offset, 0, count) }
            }
            // Unaligned; then with requests asked larger than the server's 32 MiB maximum, which must cap them.
            try write(ProtocolFixture.pattern(count: 3 << 20, seed: 1), at: (1 << 20) + 123)
            connection.requestSize = 64 << 20
            try write(ProtocolFixture.pattern(count: 40 << 20, seed: 2), at: 10 << 20)
            connection.requestSize = 256 << 10
            try write(ProtocolFixture.pattern(count: 4096, seed: 3), at: 60 << 20, fua: true)
            try zeroes(at: 2 << 20, count: 1 << 20)
            try zeroes(at: 12 << 20, count: 65536, noHole: true, fua: true)
            try connection.trim(at: 30 << 20, length: 1 << 20)
            try zeroes(at: 30 << 20, count: 1 << 20)
            try connection.flush()
            let whole = try connection.read(at: 0, count: Self.size)
            #expect(whole.withUnsafeBytes { ProtocolFixture.matches($0, model, at: 0) })
            var streamed = 0
            try connection.readStream(at: 0, length: UInt64(Self.size), requestSize: 3 << 20) { offset, bytes in
                streamed += bytes.count
                #expect(ProtocolFixture.matches(bytes, model, at: Int(offset)))
            }
            #expect(streamed == Self.size)
            connection.disconnect()
            try server.stop()
        }
        let compare = try Command.run("qemu-img", ["compare", "-f", "qcow2", "-F", "raw", qcow2, raw])
        #expect(compare.status == .exited(0), "\(compare.stdout)\(compare.stderr)")
        let rawBytes = try FileBlockReader(path: raw).read(at: 0, count: Self.size)
        #expect(rawBytes.withUnsafeBytes { ProtocolFixture.matches($0, model, at: 0) })
    }

    @Test func blockStatusOfSparseImageReportsHoles() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir))
        defer { try? server.stop() }
        let connection = try NBDConnection.connect(unixSocket: server.socketPath)
        try connection.write(ProtocolFixture.pattern(count: 65536, seed: 9), at: 1 << 20)
        try connection.flush()
        let extents = try connection.blockStatus(at: 0, length: UInt64(Self.size))
        #expect(extents.reduce(0) { $0 + $1.length } == UInt64(Self.size))
        #expect(zip(extents, extents.dropFirst()).allSatisfy { $0.offset + $0.length == $1.offset })
        func extent(at offset: UInt64) -> NBDExtent? { extents.first { $0.offset <= offset && offset < $0.offset + $0.length } }
        #expect(extent(at: 0)?.isHole == true)
        #expect(extent(at: 1 << 20)?.isHole == false)
        #expect(extent(at: 1 << 20)?.isZero == false)
        #expect(extent(at: 32 << 20)?.isHole == true)
        // A range inside one extent is clipped to the request.
        #expect(try connection.blockStatus(at: 1 << 20, length: 4096) == [NBDExtent(offset: 1 << 20, length: 4096, flags: [])])
        // Holes come back as OFFSET_HOLE chunks and must read as zeroes.
        #expect(try connection.read(at: 8 << 20, count: 1 << 20) == [UInt8](repeating: 0, count: 1 << 20))
    }

    @Test func concurrentCallersTakeTurns() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir))
        defer { try? server.stop() }
        let connection = try NBDConnection.connect(unixSocket: server.socketPath)
        let data = ProtocolFixture.pattern(count: 8 << 20, seed: 5)
        try connection.write(data, at: 0)
        let wrong = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            let offset = index << 20
            let bytes = try? connection.read(at: UInt64(offset), count: 1 << 20)
            if bytes != Array(data[offset..<(offset + (1 << 20))]) { wrong.add(1, ordering: .relaxed) }
        }
        #expect(wrong.load(ordering: .relaxed) == 0)
    }

    @Test func requestsOutsideTheExportFailBeforeSending() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir))
        defer { try? server.stop() }
        let connection = try NBDConnection.connect(unixSocket: server.socketPath)
        let error = #expect(throws: NBDError.self) { try connection.read(at: UInt64(Self.size) - 10, count: 20) }
        #expect(error?.kind == .invalidRequest)
        #expect(throws: NBDError.self) { try connection.blockStatus(at: UInt64.max - 1, length: 4) }
        #expect(try connection.read(at: UInt64(Self.size) - 10, count: 10).count == 10)
    }
}
