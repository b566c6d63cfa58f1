import Glibc
import HostSystem

/// The connection's stream socket, non-blocking, with every wait bounded: a read or write that makes no
/// progress for `timeout` seconds throws `.timeout`. Reads are exact (never ahead of what the protocol says
/// comes next), so the socket can be handed to the kernel with nothing left in a user-space buffer.
final class NBDSocket {
    let file: FileDescriptor
    var timeout: Double
    /// Names the peer in messages: the socket path.
    let peer: String

    init(file: FileDescriptor, peer: String, timeout: Double) throws {
        self.file = file
        self.peer = peer
        self.timeout = timeout
        let flags = try syscall("fcntl(F_GETFL)", path: peer) { fcntl(file.rawValue, F_GETFL) }
        try syscall("fcntl(F_SETFL)", path: peer) { fcntl(file.rawValue, F_SETFL, flags | O_NONBLOCK) }
    }

    /// A connected AF_UNIX stream socket.
    static func connect(unixSocket path: String, timeout: Double) throws -> NBDSocket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            throw NBDError(.invalidRequest, "socket path \(path) is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        let fd = try syscall("socket", path: path) { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let file = FileDescriptor(adopting: fd, path: path)
        // A unix connect blocks while the listener's backlog (1 for qemu-nbd) is full; bound that wait, then
        // clear the bound again so a socket handed to the kernel carries no timeout of ours.
        try setSendTimeout(fd, path: path, seconds: timeout)
        do {
            _ = try withUnsafePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    try syscall("connect", path: path) { Glibc.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
        } catch let error as SystemError where error.errno == EAGAIN || error.errno == EINPROGRESS {
            throw NBDError(.timeout, "the server at \(path) did not accept a connection within \(timeout) s")
        }
        try setSendTimeout(fd, path: path, seconds: 0)
        return try NBDSocket(file: file, peer: path, timeout: timeout)
    }

    private static func setSendTimeout(_ fd: Int32, path: String, seconds: Double) throws {
        var limit = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1e6))
        try syscall("setsockopt(SO_SNDTIMEO)", path: path) {
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    // MARK: Reading

    /// Fills `buffer` completely, or throws `.closed` / `.timeout`; `what` names the awaited data.
    func readExact(into buffer: UnsafeMutableRawBufferPointer, _ what: @autoclosure () -> String) throws {
        var filled = 0
        while filled < buffer.count {
            let got = recv(file.rawValue, buffer.baseAddress! + filled, buffer.count - filled, 0)
            if got > 0 { filled += got; continue }
            if got == 0 {
                throw NBDError(.closed, "the server at \(peer) closed the connection while we waited for \(what())")
            }
            if errno == EINTR { continue }
            if errno != EAGAIN { throw NBDError(.system, "reading \(what()) from \(peer) failed", errno: errno) }
            try wait(for: Int16(POLLIN), what())
        }
    }

    func readExact(count: Int, _ what: @autoclosure () -> String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try readExact(into: $0, what()) }
        return bytes
    }

    /// Reads and drops `count` bytes (an unknown info or chunk we skip), in bounded pieces.
    func discard(count: Int, _ what: @autoclosure () -> String) throws {
        var left = count
        var scratch = [UInt8](repeating: 0, count: min(count, 64 << 10))
        while left > 0 {
            let piece = min(left, scratch.count)
            try scratch.withUnsafeMutableBytes { try readExact(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<piece]), what()) }
            left -= piece
        }
    }

    // MARK: Writing

    /// Sends what it can without blocking; returns the count (0 when the socket buffer is full).
    /// MSG_NOSIGNAL: a server that hung up must give us EPIPE, not kill the process with SIGPIPE.
    func sendSome(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        while true {
            let sent = send(file.rawValue, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if sent >= 0 { return sent }
            if errno == EINTR { continue }
            if errno == EAGAIN { return 0 }
            if errno == EPIPE || errno == ECONNRESET {
                throw NBDError(.closed, "the server at \(peer) closed the connection while we were sending")
            }
            throw NBDError(.system, "sending to \(peer) failed", errno: errno)
        }
    }

    func writeAll(_ bytes: UnsafeRawBufferPointer, _ what: @autoclosure () -> String) throws {
        var done = 0
        while done < bytes.count {
            let sent = try sendSome(UnsafeRawBufferPointer(rebasing: bytes[done...]))
            if sent == 0 { try wait(for: Int16(POLLOUT), what()) } else { done += sent }
        }
    }

    func writeAll(_ bytes: [UInt8], _ what: @autoclosure () -> String) throws {
        try bytes.withUnsafeBytes { try writeAll($0, what()) }
    }

    // MARK: Waiting

    /// Waits until one of `events` is ready (or the peer hung up); returns the ready events.
    @discardableResult
    func wait(for events: Int16, _ what: @autoclosure () -> String) throws -> Int16 {
        var entry = pollfd(fd: file.rawValue, events: events, revents: 0)
        let deadline = Monotonic.now + timeout
        while true {
            let remaining = max(0, deadline - Monotonic.now)
            let ready = Glibc.poll(&entry, 1, Int32(min(remaining * 1000, Double(Int32.max))))
            if ready > 0 { return entry.revents }
            if ready < 0 && errno != EINTR { throw NBDError(.system, "poll on \(peer) failed", errno: errno) }
            if ready == 0 && Monotonic.now >= deadline {
                throw NBDError(.timeout, "the server at \(peer) made no progress for \(timeout) s while we waited for \(what())")
            }
        }
    }

    /// Back to blocking mode, then ownership of the descriptor passes to the caller.
    func releaseBlocking() throws -> FileDescriptor {
        let flags = try syscall("fcntl(F_GETFL)", path: peer) { fcntl(file.rawValue, F_GETFL) }
        try syscall("fcntl(F_SETFL)", path: peer) { fcntl(file.rawValue, F_SETFL, flags & ~O_NONBLOCK) }
        return FileDescriptor(adopting: file.release(), path: peer)
    }

    func shutdownBoth() { _ = Glibc.shutdown(file.rawValue, Int32(SHUT_RDWR)) }

    func close() { try? file.close() }
}
