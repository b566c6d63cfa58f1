import HostSystem
@testable import PackerRPC
import Glibc
import Synchronization

/// A server session (the plugin's side) and a client session (Packer's side) over a socketpair.
final class YamuxPair: Sendable {
    let server: YamuxSession
    let client: YamuxSession

    init() throws {
        let (a, b) = try SocketConnection.pair()
        server = YamuxSession(connection: a, role: .server)
        client = YamuxSession(connection: b, role: .client)
        server.start()
        client.start()
    }

    deinit {
        server.close()
        client.close()
    }
}

/// A server session whose peer is raw bytes written by the test (hostile-input tests).
final class RawPeer: Sendable {
    let session: YamuxSession
    let peer: SocketConnection

    init() throws {
        let (a, b) = try SocketConnection.pair()
        session = YamuxSession(connection: a)
        peer = b
        session.start()
    }

    func send(_ bytes: [UInt8]) throws { try peer.writeAll(bytes) }

    func frame(_ kind: UInt8, _ flags: UInt16, _ stream: UInt32, _ length: UInt32) -> [UInt8] {
        YamuxFrame(YamuxFrame.Kind(rawValue: kind)!, YamuxFrame.Flags(rawValue: flags), stream: stream, length: length).header
    }

    /// The next frame header the session wrote.
    func readFrame() throws -> YamuxFrame { try YamuxFrame(header: peer.read(count: 12)) }

    deinit {
        session.close()
        peer.shutdown()
    }
}

/// Runs `body` on a thread and waits for it; the result or error comes back here.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) -> () throws -> T {
    let outcome = ThreadOutcome<T>()
    do {
        let thread = try HostThread(name: "test thread") { outcome.value.withLock { $0 = Result { try body() } } }
        return {
            thread.join()
            return try outcome.value.withLock { $0! }.get()
        }
    } catch {
        return { throw error }
    }
}

private final class ThreadOutcome<T: Sendable>: Sendable {
    let value = Mutex<Result<T, Error>?>(nil)
}

func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed } }
