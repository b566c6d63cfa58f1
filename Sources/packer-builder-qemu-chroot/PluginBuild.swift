import PackerRPC
import Builder
import NBDCore
import Synchronization

/// One Builder.Run: the Builder library's build with Packer's Ui as its output and Packer's provisioners
/// (Hook.Run) in place of the template's.
final class PluginBuild {
    private let prepared: PreparedBuild
    private let ui: PluginUi
    private let hook: ProvisionHook
    private let cancellation: Cancellation

    init(prepared: PreparedBuild, ui: PluginUi, hook: ProvisionHook, cancellation: Cancellation) {
        self.prepared = prepared
        self.ui = ui
        self.hook = hook
        self.cancellation = cancellation
    }

    func run() throws -> PluginArtifact? {
        let definition = BuildPlan.BuildDefinition(name: prepared.name, config: prepared.config, provisioners: [],
                                                   context: prepared.context)
        var options = Build.Options()
        options.force = prepared.force
        let generated = GeneratedVariables()
        options.provision = { [hook] communicator, state in
            let variables = ["Device": state.rootDevice, "MountPath": state.mountPath,
                             "ImageName": state.config.imageName, "OutputDir": state.outputDirectory]
            generated.values.withLock { $0 = variables }
            let cancellation = state.cancellation
            try hook.provision(data: Self.provisionData(variables), register: { server, broker in
                CommunicatorService(communicator: PackerCommunicatorBridge(communicator), broker: broker, cancellation: cancellation)
                    .register(on: server)
            }, cancellation: cancellation)
        }
        let output = PluginUiOutput.make(ui, buildName: prepared.name)
        let result = Build.run(definition, options: options, output: output, cancellation: cancellation)
        if let error = result.error {
            // Packer prints this as "Build 'x' errored after …: <message>".
            throw RPCFailure(cancellation.isCancelled ? "build was cancelled" : "\(error)")
        }
        return result.artifact.map {
            ImageArtifact($0, generatedData: generated.values.withLock { $0 }, sourceImage: prepared.config.sourceImage,
                          format: prepared.config.format.rawValue)
        }
    }

    /// Hook.Run's Data: what Packer's SDK builders send, plus our generated variables. PackerHTTP* must
    /// be strings (the shell provisioner type-asserts them); we have no HTTP server.
    static func provisionData(_ generated: [String: String]) -> MsgPackValue {
        var fields: [(String, MsgPackValue)] = [
            ("ID", ""), ("Host", ""), ("Port", .int(0)), ("User", ""), ("Password", ""), ("ConnType", "chroot"),
            ("PackerRunUUID", .string(ProcessEnvironment.current["PACKER_RUN_UUID"] ?? "")),
            ("PackerHTTPIP", "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER"),
            ("PackerHTTPPort", "ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER"),
            ("PackerHTTPAddr", "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER"),
            ("SSHPublicKey", ""), ("SSHPrivateKey", ""), ("SSHPrivateKeyFile", ""), ("SSHAgentAuth", .bool(false)),
            ("WinRMPassword", ""),
        ]
        fields += generated.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }
        return .map(fields.map { MsgPackPair(.string($0.0), $0.1) })
    }
}

/// The generated variables, set by the provisioning step on the build's thread and read when Run returns.
private final class GeneratedVariables: Sendable {
    let values = Mutex<[String: String]>([:])
}
