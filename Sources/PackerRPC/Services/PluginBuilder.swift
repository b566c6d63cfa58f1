import HostSystem

/// What the Packer services need from a builder. `BuilderAdapter` implements it with the Builder library;
/// tests use fakes, so the transport is tested without images or root.
public protocol PluginBuilder: AnyObject, Sendable {
    /// The HCL2 schema (Builder.ConfigSpec).
    var configSpec: ConfigSpec { get }
    /// Packer's raw `Configs` (maps for JSON templates, cty-JSON bytes for HCL2), merged in order.
    func prepare(_ configs: [MsgPackValue]) -> PrepareOutcome
    /// Runs the prepared build. Provisioning goes through `hook`; `cancellation` fires on Builder.Cancel or
    /// when Packer goes away. Returns nil when there is nothing to show (Packer: "no artifacts").
    func run(ui: PluginUi, hook: ProvisionHook, cancellation: Cancellation) throws -> PluginArtifact?
}

public struct PrepareOutcome: Equatable, Sendable {
    public var warnings: [String]
    /// All problems in one message (Packer prints it under "Failed to prepare build").
    public var error: String?
    /// Names provisioners may use as {{ build `Name` }}; their values travel in Hook.Run's Data.
    public var generatedVariables: [String]

    public init(warnings: [String] = [], error: String? = nil, generatedVariables: [String] = []) {
        self.warnings = warnings
        self.error = error
        self.generatedVariables = generatedVariables
    }
}

/// Packer's Ui, as the builder sees it.
public protocol PluginUi: AnyObject, Sendable {
    func say(_ text: String)
    func message(_ text: String)
    func error(_ text: String)
    func machine(_ category: String, _ arguments: [String])
}

/// Runs Packer's provisioners against services the builder registers (its Communicator).
public protocol ProvisionHook: AnyObject, Sendable {
    /// Calls Hook.Run("packer_provision"); `data` is the generated data map; `register` adds the
    /// Communicator service to the stream Packer's provisioners talk to (the broker dials its data
    /// streams). Throws the provisioner's failure.
    func provision(data: MsgPackValue, register: @escaping @Sendable (RPCServer, MuxBroker) -> Void, cancellation: Cancellation) throws
}

/// The result of a build, served to Packer and its post-processors.
public protocol PluginArtifact: AnyObject, Sendable {
    var builderID: String { get }
    var id: String { get }
    var files: [String] { get }
    var summary: String { get }
    /// Artifact.State(name): a map or nil (post-processors type-assert maps).
    func state(_ name: String) -> MsgPackValue
    func destroy() throws
}
