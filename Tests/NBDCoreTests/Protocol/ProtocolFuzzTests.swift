import Glibc
import NBDCore
import Testing

/// Randomly damaged server transcripts (fixed seed): the client must answer every one with a result or an
/// NBDError, quickly; never a crash, a hang or an allocation the server chose.
@Suite(.timeLimit(.minutes(2)))
struct ProtocolFuzzTests {
    /// A valid handshake as qemu-nbd 7.2 sends it: greeting, SR ACK, base:allocation, GO with block sizes.
    static let handshake: [UInt8] = {
        var bytes = NBDTranscript()
        bytes.append(UInt64(0x4e42_444d_4147_4943)); bytes.append(UInt64(0x4948_4156_454f_5054)); bytes.append(UInt16(3))
        bytes.optionReply(8, type: 1)
        bytes.optionReply(10, type: 4, NBDTranscript.be(UInt32(7)) + Array("base:allocation".utf8))
        bytes.optionReply(10, type: 1)
        bytes.optionReply(7, type: 3, NBDTranscript.be(UInt16(3)) + NBDTranscript.be(UInt32(1)) + NBDTranscript.be(UInt32(4096)) + NBDTranscript.be(UInt32(1 << 25)))
        bytes.optionReply(7, type: 3, NBDTranscript.be(UInt16(0)) + NBDTranscript.be(UInt64(1 << 20)) + NBDTranscript.be(UInt16(0x0ced)))
        bytes.optionReply(7, type: 1)
        return bytes.bytes
    }()

    /// Replies to the first READ of 4096 bytes at 0 (cookie 1): half data, half hole.
    static let readReply: [UInt8] = {
        var bytes = NBDTranscript()
        bytes.chunk(cookie: 1, type: 1, done: false, NBDTranscript.be(UInt64(0)) + [UInt8](repeating: 0xaa, count: 2048))
        bytes.chunk(cookie: 1, type: 2, done: true, NBDTranscript.be(UInt64(2048)) + NBDTranscript.be(UInt32(2048)))
        return bytes.bytes
    }()

    @Test func damagedHandshakes() throws {
        var random = TranscriptRandom(seed: 0x5eed_0001)
        for _ in 0..<300 {
            try runOnce(Self.handshake.mutated(&random), read: false)
        }
    }

    @Test func damagedReadReplies() throws {
        var random = TranscriptRandom(seed: 0x5eed_0002)
        for _ in 0..<300 {
            try runOnce(Self.handshake + Self.readReply.mutated(&random), read: true)
        }
    }

    /// The server sends `transcript` and nothing more; whatever the client makes of it must be typed.
    private func runOnce(_ transcript: [UInt8], read: Bool) throws {
        let server = try FakeNBDServer { server in
            try server.write(transcript)
            server.endOfTranscript()
        }
        defer { server.finish() }
        var options = NBDHandshakeOptions()
        options.timeout = 0.5
        do {
            let connection = try NBDConnection.connect(socket: server.clientEnd, options: options)
            if read {
                let bytes = try connection.read(at: 0, count: 4096)
                #expect(bytes.count == 4096)
            }
        } catch is NBDError {
        } catch {
            Issue.record("untyped error \(error)")
        }
    }
}

/// Builds server byte streams in wire order.
private struct NBDTranscript {
    var bytes: [UInt8] = []

    static func be<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
    mutating func append<T: FixedWidthInteger>(_ value: T) { bytes += Self.be(value) }

    mutating func optionReply(_ option: UInt32, type: UInt32, _ data: [UInt8] = []) {
        append(UInt64(0x0003_e889_0455_65a9)); append(option); append(type); append(UInt32(data.count))
        bytes += data
    }

    mutating func chunk(cookie: UInt64, type: UInt16, done: Bool, _ payload: [UInt8]) {
        append(UInt32(0x668e_33ef)); append(UInt16(done ? 1 : 0)); append(type); append(cookie); append(UInt32(payload.count))
        bytes += payload
    }
}

private struct TranscriptRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

fileprivate extension Array where Element == UInt8 {
    /// One to four random byte changes, or a truncation, or a length field set to a huge value.
    func mutated(_ random: inout TranscriptRandom) -> [UInt8] {
        var copy = self
        switch random.below(4) {
        case 0:
            return Array(copy.prefix(random.below(count)))
        case 1:
            let at = random.below(count - 4)
            copy.replaceSubrange(at..<(at + 4), with: [0xff, 0xff, 0xff, UInt8(random.below(256))])
        default:
            for _ in 0...random.below(4) { copy[random.below(count)] = UInt8(random.below(256)) }
        }
        return copy
    }
}
