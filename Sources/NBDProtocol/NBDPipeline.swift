import Glibc

/// Keeps several requests in flight on one connection: a writer half sends requests (with WRITE payloads)
/// whenever the socket has room and the window allows, a reader half takes replies in whatever order the
/// server sends them and matches them by cookie. Both run from one poll loop, so neither side can block the
/// other (a server that stops reading requests until we read its replies cannot deadlock us).
final class NBDPipeline {
    let socket: NBDSocket
    let export: NBDExport
    private var nextCookie: UInt64 = 1
    var inFlight: [UInt64: NBDRequest] = [:]
    /// Set by the first protocol violation, timeout or hang-up; every later call rethrows it.
    private(set) var broken: NBDError?

    init(socket: NBDSocket, export: NBDExport) {
        self.socket = socket
        self.export = export
    }

    /// Sends requests from `next` with at most `depth` in flight, calling `completed` as each finishes.
    /// A command error (from the server or from `completed`) stops new requests, lets those in flight
    /// finish so the stream stays in step, then is thrown. Anything else breaks the connection.
    func run(depth: Int, next: () -> NBDRequest?, completed: (NBDRequest) throws -> Void) throws {
        if let broken { throw broken }
        let commandError: Error?
        do {
            commandError = try loop(depth: max(1, depth), next: next, completed: completed)
        } catch {
            let failure = error as? NBDError ?? NBDError(.system, "\(error)")
            broken = failure
            inFlight.removeAll()
            socket.shutdownBoth()
            throw failure
        }
        if let commandError { throw commandError }
    }

    /// Throws what breaks the connection; returns the first command error once the pipeline is drained.
    private func loop(depth: Int, next: () -> NBDRequest?, completed: (NBDRequest) throws -> Void) throws -> Error? {
        var sending: NBDRequest?
        var exhausted = false
        var firstError: Error?
        while true {
            if sending == nil && !exhausted && inFlight.count < depth {
                if let request = next() {
                    request.encodeHeader(cookie: nextCookie)
                    nextCookie &+= 1
                    sending = request
                } else {
                    exhausted = true
                }
            }
            if sending == nil && inFlight.isEmpty && exhausted { break }
            if let request = sending, try send(request) {
                // Registered only once fully sent: a reply naming a half-sent request is a violation.
                inFlight[request.cookie] = request
                sending = nil
                continue
            }
            var events: Int16 = 0
            if !inFlight.isEmpty { events |= Int16(POLLIN) }
            if sending != nil { events |= Int16(POLLOUT) }
            let ready = try socket.wait(for: events, inFlight.isEmpty ? "room to send requests" : "replies to \(inFlight.count) requests")
            guard ready & Int16(POLLIN | POLLHUP | POLLERR) != 0, !inFlight.isEmpty else { continue }
            guard let done = try readReply() else { continue }
            inFlight[done.cookie] = nil
            do {
                if let failure = done.failure { throw failure }
                try completed(done)
            } catch {
                if firstError == nil { firstError = error }
                exhausted = true
            }
        }
        return firstError
    }

    /// Sends what the socket takes now; true once the whole request is out.
    private func send(_ request: NBDRequest) throws -> Bool {
        while request.sent < request.totalBytes {
            let count: Int
            if request.sent < NBDWire.requestHeaderSize {
                count = try request.header.withUnsafeBytes { try socket.sendSome(UnsafeRawBufferPointer(rebasing: $0[request.sent...])) }
            } else {
                let payload = request.payload!
                count = try socket.sendSome(UnsafeRawBufferPointer(rebasing: payload[(request.sent - NBDWire.requestHeaderSize)...]))
            }
            if count == 0 { return false }
            request.sent += count
        }
        return true
    }

    /// DISC has no reply. Best effort and never waiting: it runs from deinit, and a server that stops
    /// reading must not hold that up; closing the socket ends the session either way.
    func sendDisconnect() {
        let request = NBDRequest(.disconnect)
        request.encodeHeader(cookie: nextCookie)
        _ = try? request.header.withUnsafeBytes { try socket.sendSome($0) }
    }

    func markBroken(_ error: NBDError) {
        if broken == nil { broken = error }
    }
}
