import Glibc
import HostSystem

/// The start of every plugin process: refuse to run by hand, listen, print the one handshake line on
/// stdout (nothing may precede it), accept Packer's connection.
public enum PluginHandshake {
    public static let cookieKey = "PACKER_PLUGIN_MAGIC_COOKIE"
    public static let cookieValue = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
    /// The text Packer's SDK prints when a plugin is started by hand.
    public static let manualStartMessage = "Please do not execute plugins directly. Packer will execute these for you."

    public static func startedByPacker(_ environment: [String: String]) -> Bool {
        environment[cookieKey] == cookieValue
    }

    /// Packer turns Ctrl-C into Builder.Cancel; the signal itself also reaches our process group and must
    /// not kill us mid-cleanup. SIGPIPE is ignored so a vanished peer gives EPIPE errors instead.
    public static func ignoreSignals() {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Listens, prints the handshake line for `launch`, and returns Packer's connection.
    public static func connect(_ launch: PluginLaunch, environment: [String: String]) throws -> SocketConnection {
        let listener: PluginListener
        do { listener = try UnixListener() } catch {
            Log.debug("no unix socket (\(error)); listening on TCP instead")
            listener = try TCPListener(environment: environment)
        }
        let line = launch.handshakeLine(network: listener.network, address: listener.address)
        StandardStream.output(line)
        Log.debug("plugin handshake: \(line.dropLast())")
        return try listener.acceptOne(timeout: 120)
    }
}
