import Glibc
import NBDCore
import Testing
import TestSupport

/// Handshake variants against a real qemu-nbd.
@Suite(.enabled(if: ProtocolFixture.qemuNBDMissing == nil, "\(ProtocolFixture.qemuNBDMissing ?? "")"), .serialized, .timeLimit(.minutes(1)))
struct ProtocolHandshakeTests {
    @Test func goWithStructuredRepliesAgreesOnEverything() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir)) { $0.exportName = "disk"; $0.description = "test disk" }
        defer { try? server.stop() }
        let export = try NBDConnection.connect(unixSocket: server.socketPath, options: NBDHandshakeOptions(exportName: "disk")).export
        #expect(export.negotiatedWithGo)
        #expect(export.structuredReplies)
        #expect(export.blockStatusContextID != nil)
        #expect(export.name == "disk")
        #expect(export.size == 64 << 20)
        #expect(export.transmissionFlags.rawValue == 0x0ced)
        #expect(export.minimumBlockSize == 1 && export.preferredBlockSize == 4096 && export.maximumPayload == 32 << 20)
        #expect(!export.canMultiConn && !export.readOnly)
    }

    @Test func simpleRepliesOnlyForTheKernel() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir))
        defer { try? server.stop() }
        let connection = try NBDConnection.connect(unixSocket: server.socketPath, options: .forKernel())
        #expect(!connection.export.structuredReplies)
        #expect(connection.export.metaContexts.isEmpty)
        #expect(connection.export.transmissionFlags.rawValue == 0x0c6d)
        // A simple READ first, as the kernel attach does for the partition table, then the hand-over.
        #expect(try connection.read(at: 0, count: 512).count == 512)
        let socket = try connection.takeSocketForKernel()
        #expect(fcntl(socket.rawValue, F_GETFL) & O_NONBLOCK == 0)
        #expect(throws: NBDError.self) { try connection.read(at: 0, count: 512) }
    }

    @Test func kernelHandOverRefusedAfterStructuredReplies() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir))
        defer { try? server.stop() }
        let connection = try NBDConnection.connect(unixSocket: server.socketPath)
        let error = #expect(throws: NBDError.self) { try connection.takeSocketForKernel() }
        #expect(error?.message.contains("structured replies") == true)
        // Refusing must leave the connection usable.
        #expect(try connection.read(at: 0, count: 512).count == 512)
    }

    @Test func exportNameFallbackWithAndWithoutStructuredReplies() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir)) { $0.exportName = "disk" }
        defer { try? server.stop() }
        for structured in [false, true] {
            var options = NBDHandshakeOptions(exportName: "disk")
            options.useGo = false
            options.structuredReplies = structured
            let connection = try NBDConnection.connect(unixSocket: server.socketPath, options: options)
            #expect(!connection.export.negotiatedWithGo)
            #expect(connection.export.structuredReplies == structured)
            #expect(connection.export.size == 64 << 20)
            #expect(try connection.read(at: 4096, count: 8192) == [UInt8](repeating: 0, count: 8192))
        }
    }

    @Test func unknownExportIsASentence() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir)) { $0.exportName = "disk" }
        defer { try? server.stop() }
        let error = #expect(throws: NBDError.self) {
            try NBDConnection.connect(unixSocket: server.socketPath, options: NBDHandshakeOptions(exportName: "bar"))
        }
        #expect(error?.kind == .refused)
        #expect(error?.description == "nbd: the server has no export named 'bar' (server says: export 'bar' not present)")
        var options = NBDHandshakeOptions(exportName: "bar")
        options.useGo = false
        let fallback = #expect(throws: NBDError.self) { try NBDConnection.connect(unixSocket: server.socketPath, options: options) }
        #expect(fallback?.message.contains("no export named 'bar'") == true)
    }

    @Test func listNamesTheExports() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir)) { $0.exportName = "disk"; $0.description = "the test disk" }
        defer { try? server.stop() }
        let exports = try NBDConnection.listExports(unixSocket: server.socketPath)
        #expect(exports == [NBDExportListing(name: "disk", description: "the test disk")])
    }

    @Test func readOnlyExportRefusesWrites() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir)) { $0.readOnly = true }
        defer { try? server.stop() }
        let connection = try NBDConnection.connect(unixSocket: server.socketPath)
        #expect(connection.export.readOnly)
        let error = #expect(throws: NBDError.self) { try connection.write([1, 2, 3], at: 0) }
        #expect(error?.kind == .unsupported)
        #expect(throws: NBDError.self) { try connection.trim(at: 0, length: 4096) }
    }

    @Test func multiConnNegotiation() throws {
        let dir = try TemporaryDirectory()
        let image = try ProtocolFixture.makeImage(dir)
        let data = ProtocolFixture.pattern(count: 1 << 20, seed: 7)
        do {
            let single = try ProtocolFixture.serve(image)
            defer { try? single.stop() }
            let connection = try NBDConnection.connect(unixSocket: single.socketPath)
            #expect(!connection.export.canMultiConn)
            try connection.write(data, at: 1 << 20)
            try connection.flush()
            connection.disconnect()
        }
        for shared in [0, 2] {
            let server = try ProtocolFixture.serve(image) { $0.shared = shared }
            defer { try? server.stop() }
            let first = try NBDConnection.connect(unixSocket: server.socketPath)
            let second = try NBDConnection.connect(unixSocket: server.socketPath)
            #expect(first.export.canMultiConn && second.export.canMultiConn)
            #expect(try first.read(at: 1 << 20, count: 1 << 19) == Array(data[..<(1 << 19)]))
            #expect(try second.read(at: (1 << 20) + (1 << 19), count: 1 << 19) == Array(data[(1 << 19)...]))
        }
    }
}
