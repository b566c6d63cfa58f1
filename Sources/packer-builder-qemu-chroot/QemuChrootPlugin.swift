import PackerRPC
import Builder
import Glibc
import NBDCore
import Synchronization

/// The qemu-chroot builder behind Packer's Builder service: Prepare reads the options with the same
/// `BuilderConfig.read` as `qemu-chroot build`, Run runs the Builder library's build with the provisioning
/// step handed to Packer (Hook.Run) while we serve the chroot as Packer's Communicator.
public final class QemuChrootPlugin: PluginBuilder, Sendable {
    /// Names provisioners may use as {{ build `X` }}, filled from the build's state (see ProvisionData).
    public static let generatedVariables = ["Device", "RootDevice", "MountPath", "ImageName", "OutputDir"]

    public let configSpec = QemuChrootSpec.spec
    /// Set by Prepare, used by Run (Packer calls them in that order, possibly from different threads).
    private let prepared = Mutex<PreparedBuild?>(nil)
    /// Why Run cannot work in this process (e.g. no private mount namespace without root).
    private let runBlocker: String?

    public init(runBlocker: String? = nil) { self.runBlocker = runBlocker }

    public func prepare(_ configs: [MsgPackValue]) -> PrepareOutcome {
        do {
            let packerConfigs = try PackerConfigs(configs)
            let build = try PreparedBuild(packerConfigs)
            prepared.withLock { $0 = build }
            return PrepareOutcome(warnings: Self.unsupportedFlags(packerConfigs), generatedVariables: Self.generatedVariables)
        } catch let errors as TemplateErrors {
            return PrepareOutcome(error: errors.problems.map { "* \($0)" }.joined(separator: "\n"))
        } catch {
            return PrepareOutcome(error: "\(error)")
        }
    }

    public func run(ui: PluginUi, hook: ProvisionHook, cancellation: Cancellation) throws -> PluginArtifact? {
        if let runBlocker { throw RPCFailure(runBlocker) }
        guard let prepared = prepared.withLock({ $0 }) else { throw RPCFailure("Builder.Run before a successful Builder.Prepare") }
        return try PluginBuild(prepared: prepared, ui: ui, hook: hook, cancellation: cancellation).run()
    }
}

extension QemuChrootPlugin {
    /// Packer flags this builder does not act on, said once at prepare time instead of silently ignored.
    static func unsupportedFlags(_ configs: PackerConfigs) -> [String] {
        var warnings: [String] = []
        if configs.flag("packer_debug") {
            warnings.append("-debug: the qemu-chroot builder does not pause between steps")
        }
        if let onError = configs.string("packer_on_error"), !onError.isEmpty, onError != "cleanup" {
            warnings.append("-on-error=\(onError): the qemu-chroot builder always cleans up a failed build (unmount, detach, no output)")
        }
        return warnings
    }
}

/// A checked configuration and the template context it was read with.
struct PreparedBuild: Sendable {
    let name: String
    let config: BuilderConfig
    let context: TemplateContext
    let force: Bool

    init(_ configs: PackerConfigs) throws {
        name = configs.string("packer_build_name") ?? BuilderConfig.type
        force = configs.flag("packer_force")
        let templatePath = configs.string("packer_template_path") ?? ""
        let directory = templatePath.contains("/") ? String(templatePath[..<templatePath.lastIndex(of: "/")!]) : "."
        context = TemplateContext(userVariables: configs.userVariables, environment: ProcessEnvironment.current,
                                  buildName: name, buildType: configs.string("packer_builder_type") ?? BuilderConfig.type,
                                  startTime: WallClock.seconds, templateDirectory: directory)
        let problems = ProblemList()
        config = BuilderConfig.read(configs.options, location: name, buildName: name, context: context, problems: problems)
        try problems.throwIfAny()
    }
}
