import CNBD
import Glibc

/// A host program run to completion unless the build is cancelled first (then TERM, a grace period,
/// KILL). Its stderr goes to an unlinked temporary file, read for the error message.
public enum CancellableCommand {
    /// `stdoutFile`: a descriptor that receives the program's output (a decompressor writing the file).
    /// `stdout`, when given instead, receives the output as it comes (qemu-img's `-p` progress).
    /// With neither, stdout is inherited.
    public static func check(_ executable: String, _ arguments: [String], stdoutFile: Int32 = -1,
                             cancellation: Cancellation, stdout: ((ArraySlice<UInt8>) -> Void)? = nil) throws {
        let errors = try TemporaryFile.anonymous("qemu-chroot-stderr")
        let fd = errors.rawValue
        defer { try? errors.close() }
        var outPipe: [Int32] = [-1, -1]
        if stdout != nil { try syscall("pipe2") { cnbd_pipe_cloexec(&outPipe) } }
        defer { if outPipe[0] >= 0 { close(outPipe[0]) } }
        var options = SpawnOptions()
        options.stderr = fd
        options.stdout = stdout != nil ? outPipe[1] : stdoutFile
        options.newProcessGroup = true
        let child: ChildProcess
        do { child = try ChildProcess.spawn(executable, arguments, options: options) } catch {
            if outPipe[1] >= 0 { close(outPipe[1]) }
            throw error
        }
        if outPipe[1] >= 0 { close(outPipe[1]) }
        // On the cancelling thread: TERM, up to 5 s, then KILL; wait() below sees the reaped status.
        let token = cancellation.onCancel { child.terminate(grace: 5) }
        defer { cancellation.remove(token) }
        if let stdout { forward(outPipe[0], to: stdout) }
        let status = child.wait()
        if cancellation.isCancelled { throw CancelledError(cancellation.cancelReason) }
        guard status.isSuccess else {
            var text = [UInt8](repeating: 0, count: 4096)
            let got = text.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            let message = String(decoding: text.prefix(max(0, got)), as: UTF8.self).trimmingWhitespace()
            throw CommandFailed(commandLine: "\(executable) \(arguments.first ?? "")",
                                result: CommandResult(status: status, stdout: "", stderr: message))
        }
    }

    /// Until the child closes its end (it exited, or a cancel killed its group).
    private static func forward(_ fd: Int32, to consumer: (ArraySlice<UInt8>) -> Void) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got > 0 { consumer(chunk[0..<got]) } else if got == 0 || errno != EINTR { return }
        }
    }
}
