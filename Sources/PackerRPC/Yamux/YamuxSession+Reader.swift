/// The session's reader thread: one frame at a time, dispatched to streams, pings and GoAway. Every
/// length from the peer is checked before anything is read or kept for it.
extension YamuxSession {
    func readLoop() throws {
        while true {
            let header = try connection.read(count: YamuxFrame.headerSize)
            if header.isEmpty { return }
            guard header.count == YamuxFrame.headerSize else {
                throw YamuxError.sessionClosed("connection ended inside a frame header")
            }
            let frame = try YamuxFrame(header: header)
            switch frame.kind {
            case .data, .windowUpdate: try handleStreamFrame(frame)
            case .ping:
                if frame.flags.contains(.syn) {
                    try send(YamuxFrame(.ping, .ack, stream: 0, length: frame.length))
                }
            case .goAway:
                monitor.withLock { peerWentAway = true }
                if frame.length != YamuxFrame.GoAwayCode.normal.rawValue {
                    throw YamuxError.sessionClosed("the peer sent GoAway with error code \(frame.length)")
                }
            }
        }
    }

    private func handleStreamFrame(_ frame: YamuxFrame) throws {
        var refuse = false
        let stream: YamuxStream? = try monitor.withLock {
            if frame.flags.contains(.syn) {
                guard frame.streamID % 2 == (role == .server ? 1 : 0), frame.streamID != 0, streams[frame.streamID] == nil else {
                    throw YamuxError.protocolViolation("peer opened invalid or duplicate stream \(frame.streamID)")
                }
                let stream = YamuxStream(id: frame.streamID, session: self, incoming: true)
                guard acceptQueue.count < Self.acceptBacklog else { refuse = true; return nil }
                streams[frame.streamID] = stream
                acceptQueue.append(stream)
                monitor.broadcast()
                return stream
            }
            return streams[frame.streamID]
        }
        if refuse { try send(YamuxFrame(.windowUpdate, .rst, stream: frame.streamID, length: 0)) }
        guard let stream else {
            // Unknown stream (already closed or refused): skip the payload without keeping it.
            if frame.kind == .data { try discard(Int(frame.length)) }
            return
        }
        if frame.kind == .data {
            try receiveData(frame, on: stream)
        }
        monitor.withLock {
            if frame.kind == .windowUpdate { stream.sendWindow &+= frame.length }
            if frame.flags.contains(.fin) { stream.remoteClosed = true }
            if frame.flags.contains(.rst) { stream.reset = true }
            monitor.broadcast()
        }
        if frame.flags.contains(.rst) { forget(stream) } else { forgetIfDone(stream) }
    }

    private func receiveData(_ frame: YamuxFrame, on stream: YamuxStream) throws {
        let allowed = monitor.withLock { stream.receiveWindow }
        guard frame.length <= allowed else {
            throw YamuxError.protocolViolation("stream \(frame.streamID) sent \(frame.length) bytes into a window of \(allowed)")
        }
        let payload = try connection.read(count: Int(frame.length))
        guard payload.count == Int(frame.length) else {
            throw YamuxError.sessionClosed("connection ended inside a data frame")
        }
        monitor.withLock {
            stream.receiveWindow -= frame.length
            if !stream.reset { stream.received += payload }
        }
    }

    private func discard(_ count: Int) throws {
        var left = count
        while left > 0 {
            let chunk = try connection.read(count: min(left, 64 * 1024))
            if chunk.isEmpty { throw YamuxError.sessionClosed("connection ended inside a data frame") }
            left -= chunk.count
        }
    }
}
