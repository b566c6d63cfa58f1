import Glibc

/// A host program run to completion unless the build is cancelled first (then TERM, a grace period,
/// KILL). Its stderr goes to an unlinked temporary file, read for the error message.
public enum CancellableCommand {
    /// `stdout`: a descriptor for the program's output (a decompressor writing the file), else inherited.
    public static func check(_ executable: String, _ arguments: [String], stdout: Int32 = -1, cancellation: Cancellation) throws {
        let errors = try TemporaryFile.anonymous("qemu-chroot-stderr")
        let fd = errors.rawValue
        defer { try? errors.close() }
        var options = SpawnOptions()
        options.stderr = fd
        options.stdout = stdout
        options.newProcessGroup = true
        let child = try ChildProcess.spawn(executable, arguments, options: options)
        // On the cancelling thread: TERM, up to 5 s, then KILL; wait() below sees the reaped status.
        let token = cancellation.onCancel { child.terminate(grace: 5) }
        defer { cancellation.remove(token) }
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
}
