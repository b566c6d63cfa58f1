import HostSystem

/// The Builder service on broker id 0: Prepare, ConfigSpec, Run, Cancel. Packer calls Cancel on the same
/// stream while Run is pending, which works because the RPC server runs each request on its own thread.
// @unchecked: its vars are guarded by `monitor`, a pthread mutex + condition (Synchronization.Mutex cannot be
// waited on), which the compiler cannot relate to them; every access is inside monitor.withLock.
public final class BuilderService: @unchecked Sendable {
    private let builder: PluginBuilder
    private let broker: MuxBroker
    private let specEncoding: ConfigSpec.Encoding
    private let monitor = Monitor()
    private var cancellation = Cancellation()
    private var running = false

    public init(builder: PluginBuilder, broker: MuxBroker, specEncoding: ConfigSpec.Encoding = .gob) {
        self.builder = builder
        self.broker = broker
        self.specEncoding = specEncoding
    }

    public func register(on server: RPCServer) {
        server.register("Builder.ConfigSpec") { [builder, specEncoding] _ in
            .object(["ConfigSpec": .binary(builder.configSpec.encoded(specEncoding))])
        }
        server.register("Builder.Prepare") { [builder] body in
            let outcome = builder.prepare(body["Configs"]?.arrayValue ?? [])
            return .object([
                "GeneratedVars": .strings(outcome.generatedVariables.isEmpty ? nil : outcome.generatedVariables),
                "Warnings": .strings(outcome.warnings.isEmpty ? nil : outcome.warnings),
                "Error": outcome.error.map { .object(["Message": .string($0)]) } ?? .nil,
            ])
        }
        server.register("Builder.Run") { [self] body in try run(body) }
        server.register("Builder.Cancel") { [self] _ in
            cancel("build was cancelled")
            return .nil
        }
    }

    private func run(_ body: MsgPackValue) throws -> MsgPackValue {
        guard let hostID = body.uint32Value else { throw RPCFailure("Builder.Run: expected a broker id, got \(body)") }
        let cancellation: Cancellation = try monitor.withLock {
            guard !running else { throw RPCFailure("Builder.Run: a build is already running in this plugin") }
            running = true
            return self.cancellation
        }
        defer { monitor.withLock { running = false; monitor.broadcast() } }
        let client = RPCClient(stream: try broker.dial(hostID))
        defer { client.close() }
        let ui = HostUi(client: client)
        let hook = HookClient(client: client, broker: broker, ui: ui)
        guard let artifact = try builder.run(ui: ui, hook: hook, cancellation: cancellation) else { return .uint(0) }
        let artifactID = broker.nextID()
        HostThread.detach { [broker] in
            guard let stream = try? broker.accept(artifactID) else { return }
            let server = RPCServer(stream: stream)
            ArtifactService.register(artifact, on: server)
            _ = try? server.serve()
        }
        return .uint(UInt64(artifactID))
    }

    /// Stops a running build (or the next one, if Cancel arrives first).
    public func cancel(_ reason: String) { monitor.withLock { cancellation }.cancel(reason) }

    /// For a lost connection: cancels the build and waits until Run has finished its cleanup.
    public func cancelAndWait(_ reason: String) {
        cancel(reason)
        monitor.withLock { while running { monitor.wait() } }
    }
}
