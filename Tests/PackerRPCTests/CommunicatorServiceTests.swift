import Builder
import Glibc
import NBDCore
@testable import PackerRPC
import Synchronization
import Testing

/// Records what the service asked for; "runs" commands by echoing them.
private final class FakeCommunicator: PackerCommunicator, Sendable {
    private let recorded = Mutex<(files: [String: (bytes: [UInt8], mode: mode_t?)], directories: [String])>(([:], []))
    var files: [String: (bytes: [UInt8], mode: mode_t?)] { recorded.withLock { $0.files } }
    var directories: [String] { recorded.withLock { $0.directories } }

    func run(_ command: String, stdin: Int32?, stdout: @escaping @Sendable (ArraySlice<UInt8>) -> Void,
             stderr: @escaping @Sendable (ArraySlice<UInt8>) -> Void, cancellation: Cancellation) throws -> HostSystem.ExitStatus {
        if command == "cat", let stdin {
            let input = try FileDescriptor(adopting: dup(stdin), path: "stdin").read(count: 1 << 20)
            stdout(input[...])
            return .exited(0)
        }
        stdout(Array("out: \(command)\n".utf8)[...])
        stderr(Array("err\n".utf8)[...])
        return .exited(3)
    }

    func upload(file path: String, to destination: String, mode: mode_t?) throws {
        let bytes = try FileDescriptor.open(path, O_RDONLY).read(count: 16 << 20)
        recorded.withLock { $0.files[destination] = (bytes, mode) }
    }

    func uploadDirectory(_ source: String, to destination: String, excluding: [String]) throws {
        recorded.withLock { $0.directories.append("up \(source) -> \(destination) \(excluding)") }
    }

    func download(_ source: String, into sink: (ArraySlice<UInt8>) throws -> Void) throws {
        guard let file = recorded.withLock({ $0.files[source] }) else { throw RPCFailure("\(source): no such file") }
        var offset = 0
        repeat {
            let end = min(offset + 100_000, file.bytes.count)
            try sink(file.bytes[offset..<end])
            offset = end
        } while offset < file.bytes.count
    }

    func downloadDirectory(_ source: String, to destination: String, excluding: [String]) throws {
        recorded.withLock { $0.directories.append("down \(source) -> \(destination) \(excluding)") }
    }
}

private final class CommunicatorBuilder: PluginBuilder {
    let communicator = FakeCommunicator()
    let configSpec = ConfigSpec([])
    func prepare(_ configs: [MsgPackValue]) -> PrepareOutcome { PrepareOutcome() }
    func run(ui: PluginUi, hook: ProvisionHook, cancellation: Cancellation) throws -> PluginArtifact? {
        try hook.provision(data: .map([]), register: { [communicator] server, broker in
            CommunicatorService(communicator: communicator, broker: broker, cancellation: cancellation).register(on: server)
        }, cancellation: cancellation)
        return nil
    }
}

@Suite(.timeLimit(.minutes(1))) struct CommunicatorServiceTests {
    /// Host side of a data stream: an id the plugin dials, and what arrives on it.
    private func hostStream(_ host: FakeHost) -> (UInt32, () throws -> YamuxStream) {
        let id = host.broker.nextID()
        return (id, onThread { try host.broker.accept(id) })
    }

    private func withHost(_ body: @escaping (FakeHost, RPCClient) throws -> Void) throws -> FakeCommunicator {
        let plugin = CommunicatorBuilder()
        let host = try FakeHost(plugin: plugin)
        host.onProvision = { client, _ in try body(host, client) }
        #expect(try host.run() == .uint(0))
        return plugin.communicator
    }

    @Test func startStreamsOutputThenTheGobStatus() throws {
        _ = try withHost { (host: FakeHost, client: RPCClient) throws in
            let (outID, out) = hostStream(host), (errID, err) = hostStream(host), (resID, res) = hostStream(host)
            #expect(try client.call("Communicator.Start", .object([
                "Command": .string("echo hi"), "StdinStreamId": .uint(0), "StdoutStreamId": .uint(UInt64(outID)),
                "StderrStreamId": .uint(UInt64(errID)), "ResponseStreamId": .uint(UInt64(resID)),
            ])) == .nil)
            #expect(try out().readToEnd() == Array("out: echo hi\n".utf8))
            #expect(try err().readToEnd() == Array("err\n".utf8))
            #expect(try res().readToEnd() == CommandFinished.gob(exitStatus: 3))
        }
    }

    @Test func startFeedsStdin() throws {
        _ = try withHost { (host: FakeHost, client: RPCClient) throws in
            let (inID, input) = hostStream(host), (outID, out) = hostStream(host), (resID, res) = hostStream(host)
            _ = try client.call("Communicator.Start", .object([
                "Command": .string("cat"), "StdinStreamId": .uint(UInt64(inID)), "StdoutStreamId": .uint(UInt64(outID)),
                "StderrStreamId": .uint(0), "ResponseStreamId": .uint(UInt64(resID)),
            ]))
            let stdin = try input()
            try stdin.write(Array("piped".utf8))
            stdin.close()
            #expect(try out().readToEnd() == Array("piped".utf8))
            #expect(try res().readToEnd() == CommandFinished.gob(exitStatus: 0))
        }
    }

    @Test func uploadAndDownloadLargeFiles() throws {
        let content = pattern(1_500_000, seed: 7)
        let communicator = try withHost { (host: FakeHost, client: RPCClient) throws in
            let (readerID, reader) = hostStream(host)
            let call = onThread {
                try client.call("Communicator.Upload", .object([
                    "Path": .string("/tmp/x"), "ReaderStreamId": .uint(UInt64(readerID)),
                    "FileInfo": .object(["N": .string("x"), "S": .uint(1_500_000), "M": .uint(0o100755), "T": .ext(type: -1, data: [0, 0, 0, 0])]),
                ]))
            }
            let stream = try reader()
            try stream.write(content)
            stream.close()
            #expect(try call() == .nil)
            let (writerID, writer) = hostStream(host)
            let download = onThread { try client.call("Communicator.Download", .object(["Path": .string("/tmp/x"), "WriterStreamId": .uint(UInt64(writerID))])) }
            #expect(try writer().readToEnd() == content)
            #expect(try download() == .nil)
            let (missingID, missing) = hostStream(host)
            let failed = onThread { try client.call("Communicator.Download", .object(["Path": .string("/nope"), "WriterStreamId": .uint(UInt64(missingID))])) }
            #expect(throws: RPCError.remote("/nope: no such file")) { try failed() }
            _ = try? missing()
        }
        #expect(communicator.files["/tmp/x"]?.mode == 0o755)
        #expect(communicator.files["/tmp/x"]?.bytes == content)
    }

    @Test func directoriesUseHostPathsAndExcludes() throws {
        let communicator = try withHost { (_: FakeHost, client: RPCClient) throws in
            #expect(try client.call("Communicator.UploadDir", .object([
                "Dst": .string("/opt/app"), "Src": .string("/host/src/"), "Exclude": .strings(["*.tmp"]),
            ])) == .nil)
            #expect(try client.call("Communicator.DownloadDir", .object([
                "Dst": .string("/host/out"), "Src": .string("/etc/"), "Exclude": .nil,
            ])) == .nil)
        }
        #expect(communicator.directories == ["up /host/src/ -> /opt/app [\"*.tmp\"]", "down /etc/ -> /host/out []"])
    }
}
