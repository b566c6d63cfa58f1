import Glibc
import HostSystem

/// Feeds a Communicator.Start stdin stream into a pipe whose read end becomes the command's stdin.
final class StdinPipe: Sendable {
    let readEnd: Int32
    private let reader: FileDescriptor
    private let writer: FileDescriptor

    init(_ stream: YamuxStream) throws {
        var fds: [Int32] = [0, 0]
        try syscall("pipe") { pipe(&fds) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        reader = FileDescriptor(adopting: fds[0], path: "stdin pipe")
        writer = FileDescriptor(adopting: fds[1], path: "stdin pipe")
        readEnd = fds[0]
        HostThread.detach { [writer] in
            // Ends at the stream's EOF, or when the command stops reading (EPIPE; SIGPIPE is ignored).
            while let chunk = try? stream.read(max: 64 * 1024), !chunk.isEmpty {
                if (try? writer.writeAll(chunk)) == nil { break }
            }
            try? writer.close()
        }
    }

    func closeReadEnd() { try? reader.close() }
}
