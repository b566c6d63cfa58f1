import CNBD
import Glibc
import HostSystem

/// One of a chroot command's output streams, as the parent sees it.
final class OutputPipe {
    /// What the child gets as its stdout/stderr; -1 is /dev/null.
    private(set) var childEnd: Int32 = -1
    private var readEnd: Int32 = -1
    private let handler: (([UInt8]) -> Void)?

    init(_ output: ChrootOutput) throws {
        switch output {
        case .discard:
            handler = nil
        case .descriptor(let fd):
            handler = nil
            childEnd = fd
        case .stream(let body):
            handler = body
            var fds: [Int32] = [0, 0]
            try syscall("pipe2") { cnbd_pipe_cloexec(&fds) }
            readEnd = fds[0]
            childEnd = fds[1]
        }
    }

    func closeChildEnd() {
        if handler != nil && childEnd >= 0 { close(childEnd) }
        childEnd = -1
    }

    deinit {
        closeChildEnd()
        if readEnd >= 0 { close(readEnd) }
    }

    /// Delivers output until every pipe is at end of file, or until `finished()` (polled every 100 ms and on
    /// every wake-up) says the command is over; then whatever is already buffered is delivered and the
    /// rest abandoned, since a background process may hold the pipe open for ever. It can return before the
    /// command ended (every pipe closed); the caller waits for the command.
    static func pump(_ pipes: [OutputPipe], finished: () -> Bool) {
        var live = pipes.filter { $0.readEnd >= 0 }
        var chunk = [UInt8](repeating: 0, count: 65536)
        var draining = false
        var drainUntil = Double.infinity
        while !live.isEmpty && Monotonic.now < drainUntil {
            if !draining && finished() {
                draining = true
                drainUntil = Monotonic.now + 1
            }
            var fds = live.map { pollfd(fd: $0.readEnd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), draining ? 0 : 100)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 {
                if draining { break }
                continue
            }
            var ended: Set<Int32> = []
            for (index, pipe) in live.enumerated() where fds[index].revents != 0 {
                let got = chunk.withUnsafeMutableBytes { read(pipe.readEnd, $0.baseAddress!, $0.count) }
                if got > 0 {
                    pipe.handler?(Array(chunk[0..<got]))
                } else if got == 0 || errno != EINTR {
                    ended.insert(pipe.readEnd)
                }
            }
            live.removeAll { ended.contains($0.readEnd) }
        }
    }
}
