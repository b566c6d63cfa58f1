import Glibc
import HostSystem

/// The plugin executable's body, shared by both launch forms (see PluginLaunch for how argv decides).
public enum PluginMain {
    /// Returns the process exit status. `beforeServing` runs once Packer's cookie was checked and before
    /// any thread exists (the plugin enters its private mount namespace there); `describe` skips it.
    public static func run(arguments: [String], environment: [String: String], beforeServing: () throws -> Void = {},
                           builder: () -> PluginBuilder) -> Int32 {
        let launch = PluginLaunch.parse(arguments)
        switch launch {
        case .describe:
            print(PluginLaunch.describeJSON)
            return 0
        case .usage(let message):
            StandardStream.error("packer-plugin-qemu-chroot: \(message)\n")
            return 2
        case .legacyBuilder, .modernBuilder:
            guard PluginHandshake.startedByPacker(environment) else {
                StandardStream.error(PluginHandshake.manualStartMessage + "\n")
                return 1
            }
            PluginHandshake.ignoreSignals()
            do {
                try beforeServing()
                let connection = try PluginHandshake.connect(launch, environment: environment)
                try PluginServer.serve(builder(), on: connection, specEncoding: launch.specEncoding)
                return 0
            } catch {
                Log.error("plugin: \(error)")
                return 1
            }
        }
    }
}
