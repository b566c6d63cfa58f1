import Builder
import Glibc
import NBDCore
import PackerRPC

/// Serves the Builder library's communicator (the chroot) to Packer's provisioners: directory transfers
/// and downloads already have Packer's shape, commands and uploads are translated.
final class PackerCommunicatorBridge: PackerCommunicator, Sendable {
    private let communicator: Communicator

    init(_ communicator: Communicator) { self.communicator = communicator }

    func run(_ command: String, stdin: Int32?, stdout: @escaping @Sendable (ArraySlice<UInt8>) -> Void,
             stderr: @escaping @Sendable (ArraySlice<UInt8>) -> Void, cancellation: Cancellation) throws -> ExitStatus {
        try communicator.run(RemoteCommand(command, stdin: stdin, stdout: stdout, stderr: stderr), cancellation: cancellation)
    }

    func upload(file: String, to destination: String, mode: mode_t?) throws {
        try communicator.upload(.file(file), to: destination, mode: mode)
    }

    func uploadDirectory(_ source: String, to destination: String, excluding: [String]) throws {
        try communicator.uploadDirectory(source, to: destination, excluding: excluding)
    }

    func download(_ source: String, into sink: (ArraySlice<UInt8>) throws -> Void) throws {
        try communicator.download(source, into: sink)
    }

    func downloadDirectory(_ source: String, to destination: String, excluding: [String]) throws {
        try communicator.downloadDirectory(source, to: destination, excluding: excluding)
    }
}
