import HostSystem

/// Packer's Hook served by the host on the Run stream. Before calling Hook.Run we serve the builder's
/// services (Communicator) and the Ui on a broker id that Packer dials right away.
final class HookClient: ProvisionHook, Sendable {
    private let client: RPCClient
    private let broker: MuxBroker
    private let ui: HostUi

    init(client: RPCClient, broker: MuxBroker, ui: HostUi) {
        self.client = client
        self.broker = broker
        self.ui = ui
    }

    func provision(data: MsgPackValue, register: @escaping @Sendable (RPCServer, MuxBroker) -> Void, cancellation: Cancellation) throws {
        let streamID = broker.nextID()
        HostThread.detach { [broker, ui] in
            do {
                let stream = try broker.accept(streamID)
                let server = RPCServer(stream: stream)
                register(server, broker)
                ui.registerForwarding(on: server)
                try server.serve()
            } catch {
                Log.debug("provisioning stream \(streamID): \(error)")
            }
        }
        // As Packer's SDK does: a cancelled build asks the host to cancel its provisioners.
        let token = cancellation.onCancel { [client] in
            HostThread.detach { _ = try? client.call("Hook.Cancel") }
        }
        defer { cancellation.remove(token) }
        _ = try client.call("Hook.Run", .object([
            "Name": .string("packer_provision"), "Data": data, "StreamId": .uint(UInt64(streamID)),
        ]))
    }
}
