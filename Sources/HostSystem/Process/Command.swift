import CNBD
import Glibc

/// The outcome of a command run to completion with its output captured.
public struct CommandResult: Sendable {
    public let status: ExitStatus
    public let stdout: String
    public let stderr: String
}

/// A command that ended unsuccessfully; carries what it printed on stderr.
public struct CommandFailed: Error, CustomStringConvertible {
    public let commandLine: String
    public let result: CommandResult

    public var description: String {
        let detail = result.stderr.trimmingWhitespace()
        return "\(commandLine) failed with \(result.status)" + (detail.isEmpty ? "" : ": \(detail)")
    }
}

/// Runs short-lived host programs (qemu-img, and in tests sgdisk, mkfs, ...) and captures their output.
public enum Command {
    /// Runs to completion; stdout and stderr are read concurrently so neither pipe can fill and block.
    public static func run(
        _ executable: String, _ arguments: [String],
        environment: [String: String]? = nil, directory: String? = nil
    ) throws -> CommandResult {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        try syscall("pipe2") { cnbd_pipe_cloexec(&outPipe) }
        defer { close(outPipe[0]) }
        do { try syscall("pipe2") { cnbd_pipe_cloexec(&errPipe) } } catch {
            close(outPipe[1]); throw error
        }
        defer { close(errPipe[0]) }
        var options = SpawnOptions()
        options.stdout = outPipe[1]
        options.stderr = errPipe[1]
        options.directory = directory
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(executable, arguments, environment: environment, options: options)
        } catch {
            close(outPipe[1]); close(errPipe[1])
            throw error
        }
        close(outPipe[1]); close(errPipe[1])
        let (out, err) = drain(outPipe[0], errPipe[0])
        let status = child.wait()
        return CommandResult(status: status, stdout: String(decoding: out, as: UTF8.self),
                             stderr: String(decoding: err, as: UTF8.self))
    }

    /// Runs and throws `CommandFailed` unless it exits 0; returns stdout.
    @discardableResult
    public static func check(
        _ executable: String, _ arguments: [String],
        environment: [String: String]? = nil, directory: String? = nil
    ) throws -> String {
        let result = try run(executable, arguments, environment: environment, directory: directory)
        guard result.status.isSuccess else {
            throw CommandFailed(commandLine: ([executable] + arguments).joined(separator: " "), result: result)
        }
        return result.stdout
    }

    private static func drain(_ a: Int32, _ b: Int32) -> ([UInt8], [UInt8]) {
        var outputs: [[UInt8]] = [[], []]
        var fds = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
        var open = 2
        var chunk = [UInt8](repeating: 0, count: 65536)
        while open > 0 {
            let ready = Glibc.poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 { if errno == EINTR { continue } else { break } }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let got = chunk.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress!, $0.count) }
                if got > 0 {
                    outputs[i].append(contentsOf: chunk[0..<got])
                } else if got == 0 || errno != EINTR {
                    fds[i].fd = -1
                    open -= 1
                }
            }
        }
        return (outputs[0], outputs[1])
    }
}

extension String {
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
