import Glibc
import NBDCore
import Synchronization
import Testing

/// What the client puts on the wire, byte for byte, against the spec (golden hex).
@Suite(.timeLimit(.minutes(1)))
struct ProtocolWireTests {
    func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    @Test func handshakeAndRequestBytes() throws {
        let seen = Transcript()
        let server = try FakeNBDServer { server in
            try server.write(server.be(UInt64(0x4e42_444d_4147_4943)) + server.be(UInt64(0x4948_4156_454f_5054)) + server.be(UInt16(3)))
            seen.add(hex(try server.read(4)))
            // STRUCTURED_REPLY, SET_META_CONTEXT, GO: the whole option as sent.
            let replies: [[(UInt32, [UInt8])]] = [
                [(1, [])],
                [(4, server.be(UInt32(7)) + Array("base:allocation".utf8)), (1, [])],
                [(3, server.be(UInt16(0)) + server.be(UInt64(1 << 20)) + server.be(UInt16(0x0ced))), (1, [])],
            ]
            for reply in replies {
                let header = try server.read(16)
                let data = try server.read(Int(header[12...15].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }))
                seen.add(hex(header + data))
                let option = header[8...11].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                for (type, payload) in reply { try server.replyOption(option, type: type, payload) }
            }
            let request = try server.read(28)
            seen.add(hex(request))
            let cookie = request[8...15].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            try server.chunk(cookie, type: 2, server.be(UInt64(4096)) + server.be(UInt32(512)))
            seen.add(hex(try server.read(28)))
            try server.simpleReply(cookie + 1)
            seen.add(hex(try server.read(28)))
            server.endOfTranscript()
        }
        let connection = try NBDConnection.connect(socket: server.clientEnd)
        #expect(try connection.read(at: 4096, count: 512) == [UInt8](repeating: 0, count: 512))
        try connection.flush()
        connection.disconnect()
        server.finish()
        #expect(seen.lines == [
            "00000003",                                                          // FIXED_NEWSTYLE | NO_ZEROES
            "49484156454f5054" + "00000008" + "00000000",                       // IHAVEOPT STRUCTURED_REPLY, no data
            "49484156454f5054" + "0000000a" + "0000001b" + "00000000" + "00000001" + "0000000f"
                + hex(Array("base:allocation".utf8)),                           // SET_META_CONTEXT "" [base:allocation]
            "49484156454f5054" + "00000007" + "0000000a" + "00000000" + "0002" + "0003" + "0001", // GO "" [BLOCK_SIZE, NAME]
            "25609513" + "0000" + "0000" + "0000000000000001" + "0000000000001000" + "00000200", // READ 512 @ 4096
            "25609513" + "0000" + "0003" + "0000000000000002" + "0000000000000000" + "00000000", // FLUSH
            "25609513" + "0000" + "0002" + "0000000000000003" + "0000000000000000" + "00000000", // DISC
        ])
    }
}

/// What the fake server saw, appended from its thread and read after `finish`.
final class Transcript: Sendable {
    private let seen = Mutex<[String]>([])
    var lines: [String] { seen.withLock { $0 } }
    func add(_ line: String) { seen.withLock { $0.append(line) } }
}
