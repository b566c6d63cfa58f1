import Glibc
import NBDCore

/// The `Communicator` of a mounted image: commands run chrooted through `command_wrapper`, files are
/// copied with paths resolved inside the image root (symlinks in the image cannot point outside it).
public final class ChrootCommunicator: Communicator {
    public let session: ChrootSession
    private let wrapper: CommandWrapper

    public init(session: ChrootSession, commandWrapper: String = "{{.Command}}") throws {
        self.session = session
        self.wrapper = try CommandWrapper(commandWrapper)
    }

    public func run(_ command: RemoteCommand, cancellation: Cancellation) throws -> ExitStatus {
        var environment = ChrootCommand.defaultEnvironment
        environment.merge(command.environment) { $1 }
        return try session.run(command.command, environment: environment, wrapper: wrapper, stdin: command.stdin ?? -1,
                               stdout: .stream { command.stdout($0[...]) }, stderr: .stream { command.stderr($0[...]) },
                               cancellation: cancellation)
    }

    public func upload(_ source: UploadSource, to destination: String, mode: mode_t?) throws {
        _ = try session.image.makeDirectories(PathName.parent(destination))
        switch source {
        case .file(let path):
            try session.copyIn(host: path, image: destination)
        case .bytes(let bytes):
            let file = try session.image.open(destination, O_WRONLY | O_CREAT | O_TRUNC, mode: mode ?? 0o644)
            try file.writeAll(bytes)
            try file.close()
        }
        if let mode {
            let file = try session.image.open(destination, O_RDONLY)
            try syscall("fchmod", path: session.image.display(destination)) { fchmod(file.rawValue, mode) }
            try file.close()
        }
    }

    public func uploadDirectory(_ source: String, to destination: String, excluding: [String]) throws {
        try session.copyDirectoryIn(host: source, image: destination, excludes: excluding)
    }

    public func download(_ source: String, into sink: (ArraySlice<UInt8>) throws -> Void) throws {
        let file = try session.image.open(source, O_RDONLY)
        defer { try? file.close() }
        while true {
            let chunk = try file.read(count: 1 << 20)
            if chunk.isEmpty { break }
            try sink(chunk[...])
        }
    }

    public func downloadDirectory(_ source: String, to destination: String, excluding: [String]) throws {
        try session.copyDirectoryOut(image: source, host: destination, excludes: excluding)
    }
}
