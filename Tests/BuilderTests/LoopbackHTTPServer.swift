import Glibc
import NBDCore
import Synchronization

/// A file server on 127.0.0.1 (an ephemeral port, nothing else listens) for the download tests: GET of a
/// path in `files` answers 200 with its bytes, anything else 404. It records the paths requested, so a
/// test can tell a cached source from a downloaded one. With `stallingAfter`, a body stops after that many
/// bytes and the connection is held open until the client goes or the server stops: a download caught
/// half-way. `stop()` (also on deinit) ends it.
final class LoopbackHTTPServer: Sendable {
    let port: UInt16
    private let listener: Int32
    private let files: Mutex<[String: [UInt8]]>
    private let stallAfter: Int?
    private let stopping = Mutex(false)
    private let served = Mutex<[String]>([])
    private let thread = Mutex<HostThread?>(nil)

    init(files: [String: [UInt8]], stallingAfter stallAfter: Int? = nil) throws {
        self.files = Mutex(files)
        self.stallAfter = stallAfter
        let fd = try syscall("socket") { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        do {
            _ = try withUnsafeMutablePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    _ = try syscall("bind") { bind(fd, sa, length) }
                    _ = try syscall("listen") { listen(fd, 16) }
                    return try syscall("getsockname") { getsockname(fd, sa, &length) }
                }
            }
        } catch {
            close(fd)
            throw error
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let started = try HostThread(name: "test http") { [self] in serve() }
        thread.withLock { $0 = started }
    }

    var url: String { "http://127.0.0.1:\(port)" }
    var requests: [String] { served.withLock { $0 } }

    func set(_ path: String, _ bytes: [UInt8]) { files.withLock { $0[path] = bytes } }

    private func serve() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            answer(client)
            close(client)
        }
    }

    private func answer(_ client: Int32) {
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while request.count < 65536, !request.ends(with: Array("\r\n\r\n".utf8)) {
            let got = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            if got <= 0 { return }
            request += buffer[0..<got]
        }
        let line = String(decoding: request.prefix { $0 != 0x0d }, as: UTF8.self).split(separator: " ")
        let path = line.count >= 2 ? String(line[1]) : ""
        served.withLock { $0.append(path) }
        let body = line.first == "GET" ? files.withLock({ $0[path] }) : nil
        let head = body == nil ? "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            : "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: \(body!.count)\r\n\r\n"
        let reply = Array(head.utf8) + (body ?? [])
        let end = body == nil ? reply.count : min(reply.count, head.utf8.count + (stallAfter ?? reply.count))
        var done = 0
        while done < end {
            let wrote = reply.withUnsafeBytes { send(client, $0.baseAddress! + done, end - done, Int32(MSG_NOSIGNAL)) }
            if wrote <= 0 { return }
            done += wrote
        }
        if end < reply.count { holdUntilClosed(client) }
    }

    /// Until the client closes its end (read gives 0 or an error) or `stop()`; a tenth of a second per look.
    private func holdUntilClosed(_ client: Int32) {
        var byte: UInt8 = 0
        while !stopping.withLock({ $0 }) {
            var entry = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            if poll(&entry, 1, 100) > 0, read(client, &byte, 1) <= 0 { return }
        }
    }

    /// shutdown(2) wakes the blocked accept, which then fails and ends the thread.
    func stop() {
        guard let running = thread.withLock({ $0.take() }) else { return }
        stopping.withLock { $0 = true }
        shutdown(listener, Int32(SHUT_RDWR))
        running.join()
        close(listener)
    }

    deinit { stop() }
}

private extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
