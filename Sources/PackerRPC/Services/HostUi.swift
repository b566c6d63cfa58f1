import HostSystem

/// Packer's Ui served by the host on the Run stream. A Ui call that fails is logged, never fatal: output
/// must not abort a build.
public final class HostUi: PluginUi, Sendable {
    let client: RPCClient

    public init(client: RPCClient) { self.client = client }

    public func say(_ text: String) { send("Ui.Say", .string(text)) }
    public func message(_ text: String) { send("Ui.Message", .string(text)) }
    public func error(_ text: String) { send("Ui.Error", .string(text)) }
    public func machine(_ category: String, _ arguments: [String]) {
        send("Ui.Machine", .object(["Category": .string(category), "Args": .strings(arguments)]))
    }

    private func send(_ method: String, _ argument: MsgPackValue) {
        do { _ = try client.call(method, argument) } catch { Log.debug("\(method) failed: \(error)") }
    }

    /// Serves the Ui methods on a stream Packer's provisioners talk to, forwarding each call to the host
    /// (as Packer's SDK does), so provisioner output reaches the user through us.
    func registerForwarding(on server: RPCServer) {
        for method in ["Ui.Say", "Ui.Message", "Ui.Error", "Ui.Machine", "Ui.Ask", "Ui.NewTrackProgress"] {
            server.register(method) { [client] body in try client.call(method, body) }
        }
        // Progress bars created by NewTrackProgress are named Ui<id>.Add / Ui<id>.Close.
        server.fallback = { [client] method in
            guard method.hasPrefix("Ui") else { return nil }
            return { body in try client.call(method, body) }
        }
    }
}
