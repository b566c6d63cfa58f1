import Glibc
import NBDCore
import Synchronization

/// A command to run inside the image, with its output streamed to the caller as it arrives.
public struct RemoteCommand: Sendable {
    /// Shell text, run as `/bin/sh -c command` inside the image (after `command_wrapper`).
    public var command: String
    /// Extra environment for the command, on top of the chroot's minimal environment.
    public var environment: [String: String]
    /// Readable fd given to the command as stdin; nil means /dev/null.
    public var stdin: Int32?
    public var stdout: @Sendable (ArraySlice<UInt8>) -> Void
    public var stderr: @Sendable (ArraySlice<UInt8>) -> Void

    public init(
        _ command: String, environment: [String: String] = [:], stdin: Int32? = nil,
        stdout: @escaping @Sendable (ArraySlice<UInt8>) -> Void = { _ in },
        stderr: @escaping @Sendable (ArraySlice<UInt8>) -> Void = { _ in }
    ) {
        self.command = command
        self.environment = environment
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// What to upload: bytes held in memory or a host file, streamed.
public enum UploadSource {
    case bytes([UInt8])
    case file(String)
}

/// How provisioners reach the image: Packer's communicator (Start, Upload, UploadDir, Download,
/// DownloadDir), implemented over a chroot by `ChrootCommunicator` and served to Packer by the plugin.
///
/// Image-side paths are absolute paths inside the image; they are resolved inside the image root, so
/// symlinks in the image can never lead outside it.
public protocol Communicator: AnyObject, Sendable {
    /// Runs `command` to completion, streaming its output; cancelling `cancellation` stops it (TERM, then
    /// KILL) and the call then returns the status it ended with.
    func run(_ command: RemoteCommand, cancellation: Cancellation) throws -> ExitStatus

    /// Writes `source` to the file `destination` in the image, replacing it; `mode` nil keeps an existing
    /// file's mode, or 0644 for a new one. Missing parent directories are created.
    func upload(_ source: UploadSource, to destination: String, mode: mode_t?) throws

    /// Copies a host directory into the image with Packer's trailing-slash rule: `src/` copies the
    /// contents of src into `destination`; `src` (no slash) creates `destination/<basename of src>`.
    /// `excluding` holds glob patterns matched against paths relative to `source` (and their basenames).
    func uploadDirectory(_ source: String, to destination: String, excluding: [String]) throws

    /// Streams the file `source` in the image to `sink`, in chunks.
    func download(_ source: String, into sink: (ArraySlice<UInt8>) throws -> Void) throws

    /// Copies a directory from the image to the host, with the same trailing-slash rule as upload.
    func downloadDirectory(_ source: String, to destination: String, excluding: [String]) throws
}

/// A command started in the background, for callers that need Packer's asynchronous Start.
public final class RemoteExecution: Sendable {
    private let cancellation = Cancellation()
    private let result = Mutex<Result<ExitStatus, Error>?>(nil)
    private let worker = Mutex<HostThread?>(nil)

    fileprivate init() {}

    /// Blocks until the command ends; the same result every time.
    public func wait() throws -> ExitStatus {
        worker.withLock { $0 }?.join()
        return try result.withLock { $0! }.get()
    }

    /// Stops the command (TERM, then KILL); `wait()` then returns how it ended.
    public func cancel(_ reason: String = "cancelled") { cancellation.cancel(reason) }

    fileprivate func launch(_ body: @escaping @Sendable (Cancellation) -> Result<ExitStatus, Error>) throws {
        let thread = try HostThread(name: "remote command") { [self] in
            let outcome = body(cancellation)
            result.withLock { $0 = outcome }
        }
        worker.withLock { $0 = thread }
    }
}

extension Communicator {
    /// Packer's Start: runs `command` on its own thread; `wait()` for the status.
    public func start(_ command: RemoteCommand) throws -> RemoteExecution {
        let execution = RemoteExecution()
        try execution.launch { cancellation in Result { try self.run(command, cancellation: cancellation) } }
        return execution
    }
}
