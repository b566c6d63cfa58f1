import HostSystem
/// Go's net/rpc client with Packer's msgpack codec on one yamux stream. Several calls may be in flight;
/// replies arrive in completion order and are matched by Seq.
// @unchecked: its vars are guarded by `monitor`, a pthread mutex + condition (Synchronization.Mutex cannot be
// waited on), which the compiler cannot relate to them; every access is inside monitor.withLock.
public final class RPCClient: @unchecked Sendable {
    private let stream: YamuxStream
    private let monitor = Monitor()
    private var nextSeq: UInt64 = 0
    private let writeLock = Monitor()
    private var outstanding: Set<UInt64> = []
    private var replies: [UInt64: Result<MsgPackValue, Error>] = [:]
    private var closed: Error?

    public init(stream: YamuxStream) {
        self.stream = stream
        HostThread.detach { [self] in readReplies() }
    }

    /// Calls `serviceMethod` and waits for its reply body; a non-empty header Error is thrown as
    /// `RPCError.remote`.
    public func call(_ serviceMethod: String, _ argument: MsgPackValue = .nil) throws -> MsgPackValue {
        let seq: UInt64 = try monitor.withLock {
            if let closed { throw closed }
            defer { nextSeq += 1 }
            outstanding.insert(nextSeq)
            return nextSeq
        }
        var bytes = MsgPackEncoder.encode(.object(["ServiceMethod": .string(serviceMethod), "Seq": .uint(seq)]))
        MsgPackEncoder.encode(argument, into: &bytes)
        do {
            // One write per request: header and body stay together on the stream.
            try writeLock.withLock { try stream.write(bytes) }
        } catch {
            monitor.withLock { _ = outstanding.remove(seq) }
            throw error
        }
        return try monitor.withLock {
            while replies[seq] == nil { monitor.wait() }
            outstanding.remove(seq)
            return try replies.removeValue(forKey: seq)!.get()
        }
    }

    /// Half-closes the stream; calls in flight still get their replies.
    public func close() { stream.close() }

    private func readReplies() {
        var input = StreamInput(stream)
        let decoder = MsgPackDecoder()
        var failure: Error = RPCError.connectionClosed("the peer closed the stream")
        do {
            while try !input.atEnd() {
                let header = try decoder.decode(from: &input)
                let body = try decoder.decode(from: &input)
                guard let seq = header["Seq"]?.integerValue else {
                    throw RPCError.malformed("response header has no Seq")
                }
                let message = header["Error"]?.stringValue ?? ""
                let key = UInt64(truncatingIfNeeded: seq)
                monitor.withLock {
                    // Replies for unknown Seq values are ignored, as Go does.
                    guard outstanding.contains(key), replies[key] == nil else { return }
                    replies[key] = message.isEmpty ? .success(body) : .failure(RPCError.remote(message))
                    monitor.broadcast()
                }
            }
        } catch {
            failure = error is RPCError ? error : RPCError.connectionClosed("\(error)")
            stream.abort()
        }
        monitor.withLock {
            closed = failure
            for seq in outstanding where replies[seq] == nil { replies[seq] = .failure(failure) }
            monitor.broadcast()
        }
    }
}
