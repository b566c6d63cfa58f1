import Glibc
import HostSystem

/// Packer's Communicator served on the provisioning stream, executed by a `PackerCommunicator` (in the
/// plugin: the Builder library's chroot), so provisioners run through the same code as `qemu-chroot build`.
/// Data streams are broker ids Packer is already waiting on (5 s), so they are dialed before replying.
public final class CommunicatorService: Sendable {
    private let communicator: PackerCommunicator
    private let broker: MuxBroker
    private let cancellation: Cancellation

    public init(communicator: PackerCommunicator, broker: MuxBroker, cancellation: Cancellation) {
        self.communicator = communicator
        self.broker = broker
        self.cancellation = cancellation
    }

    public func register(on server: RPCServer) {
        server.register("Communicator.Start") { [self] body in try start(body) }
        server.register("Communicator.Upload") { [self] body in try upload(body) }
        server.register("Communicator.Download") { [self] body in try download(body) }
        // UploadDir/DownloadDir: Src (or Dst) is a path on Packer's machine, which is ours.
        server.register("Communicator.UploadDir") { [self] body in
            try communicator.uploadDirectory(try text(body, "Src"), to: try text(body, "Dst"), excluding: excludes(body))
            return .nil
        }
        server.register("Communicator.DownloadDir") { [self] body in
            try communicator.downloadDirectory(try text(body, "Src"), to: try text(body, "Dst"), excluding: excludes(body))
            return .nil
        }
    }

    private func start(_ body: MsgPackValue) throws -> MsgPackValue {
        let command = try text(body, "Command")
        let stdin = try dial(body, "StdinStreamId"), stdout = try dial(body, "StdoutStreamId")
        let stderr = try dial(body, "StderrStreamId")
        guard let response = try dial(body, "ResponseStreamId") else {
            throw RPCFailure("Communicator.Start: no ResponseStreamId")
        }
        HostThread.detach { [self] in
            let status = execute(command, stdin: stdin, stdout: stdout, stderr: stderr)
            // Packer reads the status only after both output streams reached EOF.
            stdout?.close()
            stderr?.close()
            try? response.write(CommandFinished.gob(exitStatus: status))
            response.close()
        }
        return .nil
    }

    private func execute(_ command: String, stdin: YamuxStream?, stdout: YamuxStream?, stderr: YamuxStream?) -> Int64 {
        do {
            let input = try stdin.map(StdinPipe.init)
            defer { input?.closeReadEnd() }
            let status = try communicator.run(command, stdin: input?.readEnd,
                                              stdout: { chunk in try? stdout?.write(Array(chunk)) },
                                              stderr: { chunk in try? stderr?.write(Array(chunk)) },
                                              cancellation: cancellation)
            return Int64(status.shellCode)
        } catch {
            try? stderr?.write(Array("qemu-chroot: \(error)\n".utf8))
            Log.debug("Communicator.Start \(command): \(error)")
            return CommandFinished.disconnectedStatus
        }
    }

    private func upload(_ body: MsgPackValue) throws -> MsgPackValue {
        let path = try text(body, "Path")
        guard let reader = try dial(body, "ReaderStreamId") else { throw RPCFailure("Communicator.Upload: no ReaderStreamId") }
        let spool = try SpoolFile()
        defer { spool.remove() }
        while true {
            let chunk = try reader.read(max: 256 * 1024)
            if chunk.isEmpty { break }
            try spool.descriptor.writeAll(chunk)
        }
        try spool.descriptor.close()
        // FileInfo.M is Go's os.FileMode; only the permission bits apply to the uploaded file.
        let mode = body["FileInfo"]?["M"]?.integerValue.map { mode_t($0 & 0o777) }
        try communicator.upload(file: spool.path, to: path, mode: mode)
        return .nil
    }

    private func download(_ body: MsgPackValue) throws -> MsgPackValue {
        let path = try text(body, "Path")
        guard let writer = try dial(body, "WriterStreamId") else { throw RPCFailure("Communicator.Download: no WriterStreamId") }
        defer { writer.close() }
        try communicator.download(path) { chunk in try writer.write(Array(chunk)) }
        return .nil
    }

    private func dial(_ body: MsgPackValue, _ key: String) throws -> YamuxStream? {
        guard let id = body[key]?.uint32Value, id != 0 else { return nil }
        return try broker.dial(id)
    }

    private func text(_ body: MsgPackValue, _ key: String) throws -> String {
        guard let value = body[key]?.stringValue else { throw RPCFailure("Communicator: missing \(key)") }
        return value
    }

    private func excludes(_ body: MsgPackValue) -> [String] {
        body["Exclude"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }
}
