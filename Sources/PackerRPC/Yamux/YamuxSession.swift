import HostSystem

/// A hashicorp/yamux session. The plugin is the server (Packer's host is the client): it opens even
/// stream ids and accepts odd ones. The client role exists so tests can play Packer's side in-process. One reader thread dispatches frames; writers share `writeLock` so frames never
/// interleave on the wire. When the connection ends or the peer breaks the protocol, `failure` is set
/// and every blocked stream call and `accept` wakes up with that error.
// @unchecked: its vars are guarded by `monitor`, a pthread mutex + condition (Synchronization.Mutex cannot be
// waited on), which the compiler cannot relate to them; every access is inside monitor.withLock.
public final class YamuxSession: @unchecked Sendable {
    /// Streams waiting for `accept`; more are refused with RST, as Go's acceptBacklog does.
    static let acceptBacklog = 256

    let monitor = Monitor()
    let connection: Connection
    private let writeLock = Monitor()

    // Guarded by monitor.
    var streams: [UInt32: YamuxStream] = [:]
    var acceptQueue: [YamuxStream] = []
    private var nextStreamID: UInt32
    private(set) var failure: YamuxError?
    var peerWentAway = false
    private var readerRunning = false
    private var readerDone = false

    public enum Role { case server, client }
    let role: Role

    public init(connection: Connection, role: Role = .server) {
        self.connection = connection
        self.role = role
        self.nextStreamID = role == .server ? 2 : 1
    }

    /// Starts the reader thread.
    public func start() {
        monitor.withLock { readerRunning = true }
        HostThread.detach { [self] in
            let reason: YamuxError
            do {
                try readLoop()
                reason = .sessionClosed("the peer closed the connection")
            } catch let error as YamuxError {
                if case .protocolViolation = error { goAway(.protocolError) }
                reason = error
            } catch {
                reason = .sessionClosed("\(error)")
            }
            fail(reason)
            monitor.withLock { readerDone = true; monitor.broadcast() }
        }
    }

    public var isClosed: Bool { monitor.withLock { failure != nil } }
    public var closeReason: YamuxError? { monitor.withLock { failure } }

    /// Waits for the peer to open a stream, then acknowledges it.
    public func accept(timeout: Double? = nil) throws -> YamuxStream {
        let deadline = timeout.map { Monitor.deadline(after: $0) }
        let stream: YamuxStream = try monitor.withLock {
            while acceptQueue.isEmpty {
                if let failure { throw failure }
                if let deadline {
                    if !monitor.wait(until: deadline) { throw YamuxError.timeout }
                } else {
                    monitor.wait()
                }
            }
            let stream = acceptQueue.removeFirst()
            stream.ackSent = true
            return stream
        }
        try send(YamuxFrame(.windowUpdate, .ack, stream: stream.id, length: 0))
        return stream
    }

    /// Opens a stream (SYN); data may be written at once.
    public func open() throws -> YamuxStream {
        let stream: YamuxStream = try monitor.withLock {
            if let failure { throw failure }
            if peerWentAway { throw YamuxError.goAwayReceived }
            let id = nextStreamID
            nextStreamID &+= 2
            let stream = YamuxStream(id: id, session: self, incoming: false)
            streams[id] = stream
            return stream
        }
        try send(YamuxFrame(.windowUpdate, .syn, stream: stream.id, length: 0))
        return stream
    }

    /// Ends the session: tells the peer (GoAway normal) and wakes everything blocked on it.
    public func close() {
        goAway(.normal)
        fail(.sessionClosed("closed locally"))
    }

    /// Waits until the reader thread has stopped (after `close` or a peer disconnect).
    public func waitUntilStopped() {
        monitor.withLock {
            while readerRunning && !readerDone { monitor.wait() }
        }
    }

    // MARK: Internals used by streams

    func send(_ frame: YamuxFrame, payload: ArraySlice<UInt8> = []) throws {
        if let failure = monitor.withLock({ failure }) { throw failure }
        do {
            try writeLock.withLock { try connection.writeAll(frame.header + payload) }
        } catch {
            fail(.sessionClosed("write failed: \(error)"))
            throw monitor.withLock { failure! }
        }
    }

    func forget(_ stream: YamuxStream) {
        monitor.withLock { if streams[stream.id] === stream { streams[stream.id] = nil } }
    }

    func forgetIfDone(_ stream: YamuxStream) {
        monitor.withLock {
            if stream.localClosed && stream.remoteClosed && streams[stream.id] === stream { streams[stream.id] = nil }
        }
    }

    func goAway(_ code: YamuxFrame.GoAwayCode) {
        try? send(YamuxFrame(.goAway, stream: 0, length: code.rawValue))
    }

    func fail(_ reason: YamuxError) {
        let first: Bool = monitor.withLock {
            guard failure == nil else { return false }
            failure = reason
            streams = [:]
            acceptQueue = []
            monitor.broadcast()
            return true
        }
        if first {
            Log.debug("yamux: \(reason)")
            connection.shutdown()
        }
    }
}
