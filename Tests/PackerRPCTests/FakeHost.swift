@testable import PackerRPC
import NBDCore

/// Plays Packer's side of the protocol in-process: yamux client, broker, Ui + Hook served on the id given
/// to Builder.Run, as packer 1.6.6 does (shared/reference/packer-plugin-protocol.md §5).
// @unchecked: `uiCalls` is guarded by `monitor` (a lock the compiler cannot relate to it), and the test sets
// `onProvision` before run() starts the threads that read it.
final class FakeHost: @unchecked Sendable {
    let pair: YamuxPair
    let broker: MuxBroker
    let pluginBroker: MuxBroker
    let builder: RPCClient
    private let monitor = Monitor()
    private(set) var uiCalls: [String] = []
    /// What Hook.Run does with the provisioning stream (the host's provisioners).
    var onProvision: (RPCClient, MsgPackValue) throws -> Void = { _, _ in }

    init(plugin: PluginBuilder) throws {
        pair = try YamuxPair()
        broker = MuxBroker(session: pair.client)
        broker.start()
        pluginBroker = MuxBroker(session: pair.server)
        pluginBroker.start()
        let service = BuilderService(builder: plugin, broker: pluginBroker)
        let accepted = onThread { [pluginBroker] in try pluginBroker.accept(0) }
        builder = RPCClient(stream: try broker.dial(0))
        let server = RPCServer(stream: try accepted())
        service.register(on: server)
        server.serveInBackground()
    }

    var said: [String] { monitor.withLock { uiCalls } }

    /// Builder.Run with Ui + Hook served on host broker id 1.
    func run() throws -> MsgPackValue {
        let hostID = broker.nextID()
        HostThread.detach { [self] in
            guard let stream = try? broker.accept(hostID) else { return }
            let server = RPCServer(stream: stream)
            for method in ["Ui.Say", "Ui.Message", "Ui.Error", "Ui.Machine"] {
                server.register(method) { [self] body in
                    monitor.withLock { uiCalls.append("\(method) \(body.stringValue ?? "\(body)")") }
                    return .nil
                }
            }
            server.register("Hook.Run") { [self] body in
                guard let id = body["StreamId"]?.uint32Value else { throw RPCFailure("no StreamId") }
                let client = RPCClient(stream: try broker.dial(id))
                try onProvision(client, body["Data"] ?? .nil)
                return .nil
            }
            server.register("Hook.Cancel") { _ in .nil }
            _ = try? server.serve()
        }
        return try builder.call("Builder.Run", .uint(UInt64(hostID)))
    }

    func artifact(_ id: UInt32) throws -> RPCClient { RPCClient(stream: try broker.dial(id)) }
}
