import HostSystem
/// Packer's mux broker on top of yamux: every stream starts with a uint32 little-endian "broker id" that
/// says which endpoint it is for; the acceptor answers with the same 4 bytes. Id 0 is the component's
/// main endpoint. Ids we hand out come from `nextID()`; ids the host hands us are dialed.
// @unchecked: its vars are guarded by `monitor`, a pthread mutex + condition (Synchronization.Mutex cannot be
// waited on), which the compiler cannot relate to them; every access is inside monitor.withLock.
public final class MuxBroker: @unchecked Sendable {
    /// Go's broker waits this long for both Accept and an unclaimed incoming stream.
    public static let timeout = 5.0

    public let session: YamuxSession
    private let monitor = Monitor()
    private var pending: [UInt32: [(stream: YamuxStream, arrived: Double)]] = [:]
    private var counter: UInt32 = 0
    /// Streams whose 4-byte announcement is still awaited; a peer opening streams and saying nothing
    /// would otherwise tie up a thread each.
    private var announcing = 0
    static let maxAnnouncing = 64

    public init(session: YamuxSession) { self.session = session }

    /// Starts routing incoming streams by their broker id.
    public func start() {
        HostThread.detach { [self] in
            while let stream = try? session.accept() {
                // Each announcement is read on its own thread so a silent peer cannot stall the others.
                let admitted = monitor.withLock {
                    guard announcing < Self.maxAnnouncing else { return false }
                    announcing += 1
                    return true
                }
                guard admitted else { stream.abort(); continue }
                HostThread.detach { [self] in
                    route(stream)
                    monitor.withLock { announcing -= 1 }
                }
            }
            monitor.withLock { monitor.broadcast() }
        }
    }

    public func nextID() -> UInt32 {
        monitor.withLock {
            counter &+= 1
            return counter
        }
    }

    /// Waits for the host to dial `id`, acknowledges it and returns the stream.
    public func accept(_ id: UInt32, timeout: Double = MuxBroker.timeout) throws -> YamuxStream {
        let deadline = Monitor.deadline(after: timeout)
        let stream: YamuxStream = try monitor.withLock {
            while true {
                dropExpired()
                if var queue = pending[id], !queue.isEmpty {
                    let first = queue.removeFirst().stream
                    pending[id] = queue.isEmpty ? nil : queue
                    return first
                }
                if let reason = session.closeReason { throw reason }
                if !monitor.wait(until: deadline) { throw BrokerError.acceptTimeout(id) }
            }
        }
        try stream.write(Self.encode(id))
        return stream
    }

    /// Opens a stream to the host's endpoint `id` and waits for its acknowledgement.
    public func dial(_ id: UInt32) throws -> YamuxStream {
        let stream = try session.open()
        do {
            try stream.write(Self.encode(id))
            let ack = try stream.readExactly(4, deadline: Self.timeout)
            guard Self.decode(ack) == id else { throw BrokerError.wrongAck(expected: id, got: Self.decode(ack)) }
            return stream
        } catch YamuxError.timeout {
            stream.abort()
            throw BrokerError.dialTimeout(id)
        } catch {
            stream.abort()
            throw error
        }
    }

    private func route(_ stream: YamuxStream) {
        guard let announcement = try? stream.readExactly(4, deadline: Self.timeout) else {
            stream.abort()
            return
        }
        monitor.withLock {
            pending[Self.decode(announcement), default: []].append((stream, Self.now()))
            monitor.broadcast()
        }
    }

    /// Called with the monitor held: streams nobody accepted within the timeout are reset, as in Go.
    private func dropExpired() {
        let cutoff = Self.now() - Self.timeout
        for (id, queue) in pending {
            let (old, fresh) = (queue.filter { $0.arrived < cutoff }, queue.filter { $0.arrived >= cutoff })
            old.forEach { $0.stream.abort() }
            pending[id] = fresh.isEmpty ? nil : fresh
        }
    }

    static func encode(_ id: UInt32) -> [UInt8] { [UInt8(id & 0xff), UInt8(id >> 8 & 0xff), UInt8(id >> 16 & 0xff), UInt8(id >> 24)] }
    static func decode(_ bytes: [UInt8]) -> UInt32 { bytes.reversed().reduce(0) { $0 << 8 | UInt32($1) } }

    private static func now() -> Double {
        let time = Monitor.deadline(after: 0)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

public enum BrokerError: Error, Equatable, CustomStringConvertible {
    case acceptTimeout(UInt32)
    case dialTimeout(UInt32)
    case wrongAck(expected: UInt32, got: UInt32)

    public var description: String {
        switch self {
        case .acceptTimeout(let id): return "plugin broker: timeout waiting for the host to connect stream \(id)"
        case .dialTimeout(let id): return "plugin broker: the host did not acknowledge stream \(id) within 5 s"
        case .wrongAck(let expected, let got): return "plugin broker: stream \(expected) acknowledged as \(got)"
        }
    }
}
