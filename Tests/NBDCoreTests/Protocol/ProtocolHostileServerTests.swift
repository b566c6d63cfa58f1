import Glibc
import NBDCore
import Testing
import TestSupport

/// A scripted server that breaks the protocol must give a typed error quickly: never a crash, a hang or an
/// allocation the server chose.
@Suite(.timeLimit(.minutes(1)))
struct ProtocolHostileServerTests {
    /// Runs `script` as the server, connects with a short timeout and hands the connection (or the
    /// handshake error) to `check`.
    /// The timeout is short only where a timeout is the expected outcome: elsewhere a busy machine must not
    /// turn a slow answer into a false failure.
    func withFakeServer(timeout: Double = 10, _ script: @escaping @Sendable (FakeNBDServer) throws -> Void,
                        check: (Result<NBDConnection, Error>) throws -> Void) throws {
        let server = try FakeNBDServer(script)
        var options = NBDHandshakeOptions()
        options.timeout = timeout
        let result = Result { try NBDConnection.connect(socket: server.clientEnd, options: options) }
        defer {
            if case .success(let connection) = result { connection.disconnect() }
            server.finish()
        }
        try check(result)
    }

    func handshakeError(timeout: Double = 10, _ script: @escaping @Sendable (FakeNBDServer) throws -> Void) throws -> NBDError? {
        var found: NBDError?
        try withFakeServer(timeout: timeout, script) { result in
            if case .failure(let error) = result { found = error as? NBDError }
        }
        return found
    }

    /// The error a READ of `count` bytes at 0 gets when the server answers with `reply`.
    func readError(count: Int = 4096, blockSizes: (UInt32, UInt32, UInt32)? = nil, timeout: Double = 10,
                   _ reply: @escaping @Sendable (FakeNBDServer, FakeNBDServer.Request) throws -> Void) throws -> NBDError? {
        var found: NBDError?
        try withFakeServer(timeout: timeout, { server in
            try server.handshake(blockSizes: blockSizes)
            try reply(server, try server.readRequest())
            _ = try server.read(1)
        }) { result in
            let connection = try result.get()
            #expect { _ = try connection.read(at: 0, count: count) } throws: { error in
                found = error as? NBDError
                return true
            }
        }
        return found
    }

    // MARK: Handshake

    @Test func notAnNBDServer() throws {
        let error = try handshakeError { try $0.write(Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8)) }
        #expect(error?.kind == .protocolViolation)
        #expect(error?.message.contains("not an NBD server") == true)
    }

    @Test func oldstyleServerRefused() throws {
        let error = try handshakeError { try $0.write($0.be(UInt64(0x4e42_444d_4147_4943)) + $0.be(UInt64(0x0000_4202_8186_1253))) }
        #expect(error?.kind == .unsupported)
    }

    @Test func hugeOptionReplyLengthIsNotAllocated() throws {
        let error = try handshakeError { server in
            try server.greet()
            _ = try server.readOption()
            try server.replyOption(8, type: 1, [])
            _ = try server.readOption()
            try server.write(server.be(UInt64(0x0003_e889_0455_65a9)) + server.be(UInt32(10)) + server.be(UInt32(4)) + server.be(UInt32.max))
        }
        #expect(error?.kind == .protocolViolation)
        #expect(error?.message.contains("claims 4294967295 bytes") == true)
    }

    @Test func goWithoutExportInfo() throws {
        let error = try handshakeError { server in
            try server.greet()
            var (option, _) = try server.readOption()
            while option != 7 { try server.replyOption(option, type: 0x8000_0001); (option, _) = try server.readOption() }
            try server.replyOption(7, type: 3, server.be(UInt16(99)) + [1, 2, 3])  // unknown info: skipped
            try server.replyOption(7, type: 1)
        }
        #expect(error?.kind == .protocolViolation)
        #expect(error?.message.contains("without sending the export size") == true)
    }

    @Test func inconsistentBlockSizes() throws {
        let error = try handshakeError { try $0.handshake(blockSizes: (4096, 512, 1 << 20)) }
        #expect(error?.kind == .protocolViolation)
        #expect(error?.message.contains("block sizes") == true)
    }

    @Test func goUnsupportedFallsBackToExportNameWithPadding() throws {
        // A server without NO_ZEROES pads the EXPORT_NAME reply with 124 zero bytes.
        try withFakeServer({ server in
            try server.greet(flags: 1)
            while true {
                let (option, data) = try server.readOption()
                if option == 1 {
                    #expect(data.isEmpty)
                    try server.write(server.be(UInt64(3 << 20)) + server.be(UInt16(0x0c6d)) + [UInt8](repeating: 0, count: 124))
                    break
                }
                try server.replyOption(option, type: 0x8000_0001)
            }
            let request = try server.readRequest()
            try server.simpleReply(request.cookie, data: [UInt8](repeating: 9, count: Int(request.length)))
            _ = try server.read(1)
        }) { result in
            let connection = try result.get()
            #expect(!connection.export.negotiatedWithGo && !connection.export.structuredReplies)
            #expect(connection.size == 3 << 20)
            #expect(try connection.read(at: 512, count: 512) == [UInt8](repeating: 9, count: 512))
        }
    }

    @Test func listenerThatNeverAcceptsTimesOut() throws {
        let dir = try TemporaryDirectory()
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(dir.file("full.sock").utf8)) }
        func socketCall(_ call: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32, _ fd: Int32) throws {
            _ = try withUnsafePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    try syscall("socket call") { call(fd, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
        }
        let listener = FileDescriptor(adopting: try syscall("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0) }, path: "listener")
        try socketCall(bind, listener.rawValue)
        _ = try syscall("listen") { listen(listener.rawValue, 0) }
        // A first client that is never accepted fills the backlog, so the next connect(2) cannot complete.
        let pending = FileDescriptor(adopting: try syscall("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0) }, path: "pending")
        try socketCall(connect, pending.rawValue)
        var options = NBDHandshakeOptions()
        options.timeout = 0.3
        let start = Monotonic.now
        let error = #expect(throws: NBDError.self) { try NBDConnection.connect(unixSocket: dir.file("full.sock"), options: options) }
        #expect(error?.kind == .timeout)
        #expect(error?.message.contains("did not accept") == true)
        #expect(Monotonic.now - start < 5)
    }

    @Test func silentServerTimesOutInTheHandshake() throws {
        let start = Monotonic.now
        let error = try handshakeError(timeout: 0.3) { server in _ = try server.read(1) }
        #expect(error?.kind == .timeout)
        #expect(Monotonic.now - start < 5)
    }

    @Test func tlsRequiredIsASentence() throws {
        let error = try handshakeError { server in
            try server.greet()
            while true {
                let (option, _) = try server.readOption()
                try server.replyOption(option, type: 0x8000_0005, Array("TLS negotiation is required".utf8))
            }
        }
        #expect(error?.kind == .refused)
        #expect(error?.message == "the server requires TLS, which this client does not support (server says: TLS negotiation is required)")
    }

    // MARK: Transmission

    @Test func badReplyMagicBreaksTheConnection() throws {
        var second: NBDError?
        try withFakeServer({ server in
            try server.handshake()
            let request = try server.readRequest()
            try server.write(server.be(UInt32(0xdead_beef)) + server.be(UInt32(0)) + server.be(request.cookie))
            _ = try server.read(1)
        }) { result in
            let connection = try result.get()
            let first = #expect(throws: NBDError.self) { try connection.read(at: 0, count: 512) }
            #expect(first?.kind == .protocolViolation)
            second = #expect(throws: NBDError.self) { try connection.read(at: 0, count: 512) }
            #expect(second == first)
            #expect(throws: NBDError.self) { try connection.takeSocketForKernel() }
        }
    }

    @Test func unknownCookie() throws {
        let error = try readError { server, request in try server.simpleReply(request.cookie &+ 1000) }
        #expect(error?.kind == .protocolViolation)
        #expect(error?.message.contains("names no request in flight") == true)
    }

    @Test func truncatedReply() throws {
        let error = try readError { server, request in
            try server.chunk(request.cookie, type: 1, server.be(UInt64(0)) + [UInt8](repeating: 1, count: 100), claimedLength: 8 + 4096)
            server.hangUp()
        }
        #expect(error?.kind == .closed)
    }

    @Test func oversizedDataChunk() throws {
        let error = try readError { server, request in
            try server.chunk(request.cookie, type: 1, server.be(UInt64(0)), claimedLength: 8 + (1 << 30))
        }
        #expect(error?.kind == .protocolViolation)
    }

    @Test func dataChunkOutsideTheRequest() throws {
        let error = try readError { server, request in
            try server.chunk(request.cookie, type: 1, server.be(UInt64(8192)) + [UInt8](repeating: 1, count: 4096))
        }
        #expect(error?.kind == .protocolViolation)
    }

    @Test func replyThatLeavesAGap() throws {
        let error = try readError { server, request in
            try server.chunk(request.cookie, type: 1, server.be(UInt64(0)) + [UInt8](repeating: 1, count: 1024))
        }
        #expect(error?.message.contains("covering 1024 bytes") == true)
    }

    @Test func unknownChunkTypeWithoutErrorBit() throws {
        let error = try readError { server, request in try server.chunk(request.cookie, type: 77, [1, 2, 3]) }
        #expect(error?.kind == .protocolViolation)
    }

    @Test func serverThatStopsAnswering() throws {
        let start = Monotonic.now
        let error = try readError(timeout: 0.3) { _, _ in }
        #expect(error?.kind == .timeout)
        #expect(Monotonic.now - start < 5)
    }

    @Test func serverThatStopsReadingTimesOutAWrite() throws {
        let start = Monotonic.now
        try withFakeServer(timeout: 0.3, { server in
            try server.handshake(size: 64 << 20)
            _ = try server.read(28)
            Glibc.sleep(2)
        }) { result in
            let connection = try result.get()
            let error = #expect(throws: NBDError.self) { try connection.write([UInt8](repeating: 1, count: 32 << 20), at: 0) }
            #expect(error?.kind == .timeout)
        }
        #expect(Monotonic.now - start < 5)
    }

    @Test func unknownErrorChunkFailsTheRequestOnly() throws {
        let error = try readError { server, request in
            try server.chunk(request.cookie, type: 0x8123, [1, 2, 3, 4])
        }
        #expect(error?.kind == .commandFailed)
        #expect(error?.message.contains("unknown error chunk type 33059") == true)
    }

    @Test func errorOffsetChunkCarriesTheMessage() throws {
        let error = try readError { server, request in
            let message = Array("bad sector".utf8)
            try server.chunk(request.cookie, type: 0x8002, done: false,
                             server.be(UInt32(5)) + server.be(UInt16(message.count)) + message + server.be(UInt64(512)))
            try server.chunk(request.cookie, type: 0, [])
        }
        #expect(error?.kind == .commandFailed)
        #expect(error?.errno == EIO)
        #expect(error?.message.hasSuffix(": bad sector") == true)
    }

    @Test func errorChunkWithLyingMessageLength() throws {
        let error = try readError { server, request in
            try server.chunk(request.cookie, type: 0x8001, server.be(UInt32(5)) + server.be(UInt16(500)) + [65, 66])
        }
        #expect(error?.kind == .protocolViolation)
    }

    @Test func errorChunkFailsOnlyThatRequest() throws {
        try withFakeServer({ server in
            try server.handshake()
            let failing = try server.readRequest()
            let message = Array("operation past EOF".utf8)
            try server.chunk(failing.cookie, type: 0x8001, server.be(UInt32(22)) + server.be(UInt16(message.count)) + message)
            let next = try server.readRequest()
            try server.chunk(next.cookie, type: 2, server.be(next.offset) + server.be(next.length))
            _ = try server.read(1)
        }) { result in
            let connection = try result.get()
            let error = #expect(throws: NBDError.self) { try connection.read(at: 0, count: 512) }
            #expect(error?.kind == .commandFailed)
            #expect(error?.errno == EINVAL)
            #expect(error?.description == "nbd: the server failed READ of 512 bytes at 0: operation past EOF (EINVAL)")
            #expect(try connection.read(at: 0, count: 512) == [UInt8](repeating: 0, count: 512))
        }
    }

    @Test func repliesOutOfOrderAreMatchedByCookie() throws {
        // A 4 KiB server maximum splits a 12 KiB read into three pipelined requests, answered last first,
        // in data and hole chunks, with a simple reply to a flush in between.
        try withFakeServer({ server in
            try server.handshake(blockSizes: (1, 4096, 4096))
            let requests = try (0..<3).map { _ in try server.readRequest() }
            #expect(requests.map(\.offset) == [0, 4096, 8192])
            for request in requests.reversed() {
                let fill = UInt8(request.offset / 4096 + 1)
                try server.chunk(request.cookie, type: 1, done: false, server.be(request.offset + 2048) + [UInt8](repeating: fill, count: 2048))
                try server.chunk(request.cookie, type: 2, server.be(request.offset) + server.be(UInt32(2048)))
            }
            let flush = try server.readRequest()
            try server.simpleReply(flush.cookie)
            _ = try server.read(1)
        }) { result in
            let connection = try result.get()
            let bytes = try connection.read(at: 0, count: 12288)
            for block in 0..<3 {
                #expect(bytes[(block * 4096)..<(block * 4096 + 2048)].allSatisfy { $0 == 0 })
                #expect(bytes[(block * 4096 + 2048)..<(block * 4096 + 4096)].allSatisfy { $0 == UInt8(block + 1) })
            }
            try connection.flush()
        }
    }

    @Test func blockStatusWithZeroLengthExtent() throws {
        try withFakeServer({ server in
            try server.handshake()
            let request = try server.readRequest()
            try server.chunk(request.cookie, type: 5, server.be(UInt32(7)) + server.be(UInt32(0)) + server.be(UInt32(3)))
            _ = try server.read(1)
        }) { result in
            let connection = try result.get()
            let error = #expect(throws: NBDError.self) { try connection.blockStatus(at: 0, length: 4096) }
            #expect(error?.kind == .protocolViolation)
        }
    }

    @Test func blockStatusParsesExtents() throws {
        try withFakeServer({ server in
            try server.handshake()
            let request = try server.readRequest()
            let extents = server.be(UInt32(1024)) + server.be(UInt32(0)) + server.be(UInt32(1 << 20)) + server.be(UInt32(3))
            try server.chunk(request.cookie, type: 5, server.be(UInt32(7)) + extents)
            _ = try server.read(1)
        }) { result in
            let connection = try result.get()
            #expect(try connection.blockStatus(at: 0, length: 4096) == [
                NBDExtent(offset: 0, length: 1024, flags: []),
                NBDExtent(offset: 1024, length: 3072, flags: [.hole, .zero]),
            ])
        }
    }
}
