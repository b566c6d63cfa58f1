import NBDCore
@testable import PackerRPC
import Testing

/// A builder whose Run waits for cancellation, then "cleans up" (records it) before returning.
// @unchecked: `started` and `cleanedUp` are guarded by `monitor`, a lock the compiler cannot relate to them.
private final class CleanupRecordingBuilder: PluginBuilder, @unchecked Sendable {
    let configSpec = ConfigSpec([])
    let monitor = Monitor()
    var started = false
    var cleanedUp = false

    func prepare(_ configs: [MsgPackValue]) -> PrepareOutcome { PrepareOutcome() }

    func run(ui: PluginUi, hook: ProvisionHook, cancellation: Cancellation) throws -> PluginArtifact? {
        monitor.withLock { started = true; monitor.broadcast() }
        while !cancellation.isCancelled { HostThread.sleep(0.01) }
        HostThread.sleep(0.2) // cleanup takes a while; serve must wait for it
        monitor.withLock { cleanedUp = true }
        throw CancelledError(cancellation.cancelReason)
    }
}

@Suite(.timeLimit(.minutes(1))) struct PluginServerTests {
    @Test func hostDisconnectMidRunCancelsAndWaitsForCleanup() throws {
        let (pluginSide, hostSide) = try SocketConnection.pair()
        let builder = CleanupRecordingBuilder()
        let serving = onThread { try PluginServer.serve(builder, on: pluginSide) }
        let session = YamuxSession(connection: hostSide, role: .client)
        session.start()
        let broker = MuxBroker(session: session)
        broker.start()
        let client = RPCClient(stream: try broker.dial(0))
        let uiAccept = onThread { try broker.accept(1) }
        let run = onThread { try client.call("Builder.Run", .uint(1)) }
        _ = try uiAccept()
        builder.monitor.withLock { while !builder.started { builder.monitor.wait() } }
        hostSide.shutdown() // Packer vanishes
        try serving()
        #expect(builder.monitor.withLock { builder.cleanedUp })
        #expect(throws: (any Error).self) { try run() }
    }

    @Test func garbageInsteadOfYamuxEndsTheServer() throws {
        let (pluginSide, hostSide) = try SocketConnection.pair()
        let serving = onThread { try PluginServer.serve(CleanupRecordingBuilder(), on: pluginSide) }
        try hostSide.writeAll(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(throws: (any Error).self) { try serving() }
    }
}
