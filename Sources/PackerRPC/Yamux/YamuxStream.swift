import HostSystem
/// One yamux stream: a reliable, flow-controlled byte pipe inside the session. Its state is guarded by
/// the session's monitor; `writeLock` keeps a multi-frame write in one piece relative to other writers.
// @unchecked: its vars are guarded by the session's `monitor` (one lock and condition for every stream of a
// session, so the reader thread can wake any of them), which the compiler cannot relate to this object.
public final class YamuxStream: @unchecked Sendable {
    public let id: UInt32
    let session: YamuxSession
    private let writeLock = Monitor()

    // Guarded by session.monitor.
    var received: [UInt8] = []
    var readIndex = 0
    var receiveWindow = YamuxFrame.initialWindow
    var sendWindow = YamuxFrame.initialWindow
    var ackSent: Bool
    var remoteClosed = false
    var localClosed = false
    var reset = false

    init(id: UInt32, session: YamuxSession, incoming: Bool) {
        self.id = id
        self.session = session
        self.ackSent = !incoming
    }

    var buffered: Int { received.count - readIndex }

    /// Reads up to `count` bytes, blocking until some arrive. Empty means the peer closed its side (EOF).
    public func read(max count: Int, deadline: Double? = nil) throws -> [UInt8] {
        let limit = deadline.map { Monitor.deadline(after: $0) }
        let (chunk, update) = try session.monitor.withLock { () throws -> ([UInt8], YamuxFrame?) in
            while buffered == 0 {
                if reset { throw YamuxError.streamReset }
                if remoteClosed { return ([], nil) }
                if let failure = session.failure { throw failure }
                if let limit, !session.monitor.wait(until: limit) { throw YamuxError.timeout }
                if limit == nil { session.monitor.wait() }
            }
            let take = min(count, buffered)
            let chunk = Array(received[readIndex..<readIndex + take])
            readIndex += take
            if readIndex == received.count { received.removeAll(keepingCapacity: true); readIndex = 0 }
            return (chunk, windowUpdateIfDue())
        }
        if let update { try? session.send(update) }
        return chunk
    }

    /// Reads exactly `count` bytes or throws (EOF before that is `streamClosed`).
    public func readExactly(_ count: Int, deadline: Double? = nil) throws -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            let chunk = try read(max: count - out.count, deadline: deadline)
            if chunk.isEmpty { throw YamuxError.sessionClosed("stream \(id) ended after \(out.count) of \(count) bytes") }
            out += chunk
        }
        return out
    }

    /// Reads until the peer closes its side.
    public func readToEnd(limit: Int = 1 << 30) throws -> [UInt8] {
        var out: [UInt8] = []
        while true {
            let chunk = try read(max: 64 * 1024)
            if chunk.isEmpty { return out }
            out += chunk
            if out.count > limit { throw YamuxError.protocolViolation("stream \(id) sent more than \(limit) bytes") }
        }
    }

    /// Go's receiver rule: top the window back up once at least half of it was consumed.
    /// Called with the monitor held; the caller sends the frame after unlocking (no I/O under the lock).
    private func windowUpdateIfDue() -> YamuxFrame? {
        let delta = Int64(YamuxFrame.initialWindow) - Int64(buffered) - Int64(receiveWindow)
        guard delta >= Int64(YamuxFrame.initialWindow / 2), !reset, !remoteClosed else { return nil }
        receiveWindow += UInt32(delta)
        var flags: YamuxFrame.Flags = []
        if !ackSent { flags.insert(.ack); ackSent = true }
        return YamuxFrame(.windowUpdate, flags, stream: id, length: UInt32(delta))
    }

    /// Writes all of `bytes`, in frames no larger than the peer's window, waiting for window updates.
    public func write(_ bytes: [UInt8]) throws {
        try writeLock.withLock {
            var offset = 0
            while offset < bytes.count {
                let (size, flags) = try session.monitor.withLock { () throws -> (Int, YamuxFrame.Flags) in
                    while sendWindow == 0 {
                        try checkWritable()
                        session.monitor.wait()
                    }
                    try checkWritable()
                    let size = min(Int(sendWindow), bytes.count - offset, 64 * 1024)
                    sendWindow -= UInt32(size)
                    var flags: YamuxFrame.Flags = []
                    if !ackSent { flags.insert(.ack); ackSent = true }
                    return (size, flags)
                }
                try session.send(YamuxFrame(.data, flags, stream: id, length: UInt32(size)),
                                 payload: bytes[offset..<offset + size])
                offset += size
            }
        }
    }

    private func checkWritable() throws {
        if reset { throw YamuxError.streamReset }
        if let failure = session.failure { throw failure }
        if localClosed { throw YamuxError.streamClosed }
    }

    /// Half-closes: the peer reads EOF, we can still read. Idempotent.
    public func close() {
        writeLock.withLock {
            let flags: YamuxFrame.Flags? = session.monitor.withLock {
                guard !localClosed, !reset, session.failure == nil else { return nil }
                localClosed = true
                var flags: YamuxFrame.Flags = [.fin]
                if !ackSent { flags.insert(.ack); ackSent = true }
                return flags
            }
            guard let flags else { return }
            try? session.send(YamuxFrame(.windowUpdate, flags, stream: id, length: 0))
            session.forgetIfDone(self)
        }
    }

    /// Aborts the stream in both directions.
    public func abort() {
        let wasOpen: Bool = session.monitor.withLock {
            guard !reset else { return false }
            reset = true
            session.monitor.broadcast()
            return session.failure == nil
        }
        if wasOpen { try? session.send(YamuxFrame(.windowUpdate, .rst, stream: id, length: 0)) }
        session.forget(self)
    }
}
