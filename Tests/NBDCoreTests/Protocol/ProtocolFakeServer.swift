import Glibc
import NBDCore
import Synchronization

/// An in-process NBD server on one end of a socketpair, running a script on its own thread, so tests can
/// send exactly the bytes a broken or hostile server would. The client end goes to `NBDConnection`.
final class FakeNBDServer: Sendable {
    struct Request {
        let flags: UInt16
        let type: UInt16
        let cookie: UInt64
        let offset: UInt64
        let length: UInt32
    }

    let clientEnd: FileDescriptor
    private let serverFD: Int32
    private let thread = Mutex<HostThread?>(nil)
    private let failure = Mutex<Error?>(nil)
    /// What the script threw, if anything (a client that hung up is the usual end); known after `finish`.
    var scriptError: Error? { failure.withLock { $0 } }

    init(_ script: @escaping @Sendable (FakeNBDServer) throws -> Void) throws {
        var fds: [Int32] = [0, 0]
        try syscall("socketpair") { socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
        clientEnd = FileDescriptor(adopting: fds[0], path: "fake-nbd-server")
        serverFD = fds[1]
        let started = try HostThread(name: "fake nbd server") { [unowned self] in try script(self) }
        thread.withLock { $0 = started }
    }

    /// From the script: the server end hangs up (the descriptor stays open until `finish`).
    func hangUp() {
        Glibc.shutdown(serverFD, Int32(SHUT_RDWR))
    }

    /// From the script: no more bytes to the client, but keep reading what it sends until it hangs up, so
    /// its requests do not fail before it has read everything we sent.
    func endOfTranscript() {
        Glibc.shutdown(serverFD, Int32(SHUT_WR))
        while (try? read(1)) != nil {}
    }

    /// Waits for the script (after hanging up our end so a blocked read returns), then closes it.
    func finish() {
        hangUp()
        if let error = thread.withLock({ $0 })?.join() { failure.withLock { $0 = error } }
        Glibc.close(serverFD)
    }

    // MARK: Raw bytes

    func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { recv(serverFD, $0.baseAddress! + filled, count - filled, 0) }
            if got <= 0 { throw NBDError(.closed, "fake server: client hung up") }
            filled += got
        }
        return bytes
    }

    func write(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let sent = bytes.withUnsafeBytes { send(serverFD, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { throw NBDError(.closed, "fake server: client hung up") }
            done += sent
        }
    }

    // MARK: Handshake

    func greet(flags: UInt16 = 3) throws {
        try write(be(UInt64(0x4e42_444d_4147_4943)) + be(UInt64(0x4948_4156_454f_5054)) + be(flags))
        _ = try read(4)
    }

    /// Returns the option number and its data.
    func readOption() throws -> (UInt32, [UInt8]) {
        let header = try read(16)
        let length = Int(word(header, 12))
        return (word(header, 8), try read(length))
    }

    func replyOption(_ option: UInt32, type: UInt32, _ data: [UInt8] = []) throws {
        try write(be(UInt64(0x0003_e889_0455_65a9)) + be(option) + be(type) + be(UInt32(data.count)) + data)
    }

    /// A well-behaved handshake: SR and base:allocation (context id 7) if asked, GO with the given export.
    func handshake(size: UInt64 = 1 << 20, flags: UInt16 = 0x0ced, blockSizes: (UInt32, UInt32, UInt32)? = nil) throws {
        try greet()
        while true {
            let (option, _) = try readOption()
            switch option {
            case 8: try replyOption(option, type: 1)
            case 10:
                try replyOption(option, type: 4, be(UInt32(7)) + Array("base:allocation".utf8))
                try replyOption(option, type: 1)
            case 7:
                if let (minimum, preferred, maximum) = blockSizes {
                    try replyOption(option, type: 3, be(UInt16(3)) + be(minimum) + be(preferred) + be(maximum))
                }
                try replyOption(option, type: 3, be(UInt16(0)) + be(size) + be(flags))
                try replyOption(option, type: 1)
                return
            default: try replyOption(option, type: 0x8000_0001)
            }
        }
    }

    // MARK: Transmission

    func readRequest() throws -> Request {
        let header = try read(28)
        let request = Request(flags: UInt16(header[4]) << 8 | UInt16(header[5]), type: UInt16(header[6]) << 8 | UInt16(header[7]),
                              cookie: long(header, 8), offset: long(header, 16), length: word(header, 24))
        if request.type == 1 { _ = try read(Int(request.length)) }
        return request
    }

    func simpleReply(_ cookie: UInt64, error: UInt32 = 0, data: [UInt8] = []) throws {
        try write(be(UInt32(0x6744_6698)) + be(error) + be(cookie) + data)
    }

    func chunk(_ cookie: UInt64, type: UInt16, done: Bool = true, _ payload: [UInt8], claimedLength: UInt32? = nil) throws {
        try write(be(UInt32(0x668e_33ef)) + be(UInt16(done ? 1 : 0)) + be(type) + be(cookie)
                  + be(claimedLength ?? UInt32(payload.count)) + payload)
    }

    // MARK: Encoding

    func be<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
    private func word(_ bytes: [UInt8], _ at: Int) -> UInt32 { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
    private func long(_ bytes: [UInt8], _ at: Int) -> UInt64 { bytes[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
}

