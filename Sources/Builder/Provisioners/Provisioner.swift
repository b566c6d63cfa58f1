import Glibc
import NBDCore

/// What a provisioner works with during a build.
public struct ProvisionerContext: Sendable {
    public let communicator: Communicator
    public let log: BuildLog
    public let cancellation: Cancellation
    public let template: TemplateContext

    public init(communicator: Communicator, log: BuildLog, cancellation: Cancellation, template: TemplateContext) {
        self.communicator = communicator
        self.log = log
        self.cancellation = cancellation
        self.template = template
    }

    /// Environment every script gets, as Packer sets it.
    var packerEnvironment: [(name: String, value: String)] { template.packerEnvironment }
}

extension TemplateContext {
    /// Environment every script gets, as Packer sets it.
    var packerEnvironment: [(name: String, value: String)] {
        [("PACKER_BUILD_NAME", buildName), ("PACKER_BUILDER_TYPE", buildType)]
    }
}

/// Runs one configured provisioner with Packer's common options: `pause_before`, `timeout`, `max_retries`.
public enum ProvisionerRunner: Sendable {
    public static func run(_ config: ProvisionerConfig, _ context: ProvisionerContext) throws {
        context.log.say("provisioning with \(config.type) (\(config.location))")
        if config.pauseBefore > 0 {
            context.log.message("pausing \(Duration.format(config.pauseBefore)) before provisioning (pause_before)")
            try sleep(config.pauseBefore, context.cancellation)
        }
        var attempt = 0
        while true {
            do {
                try withTimeout(config.timeout, context) { try runOnce(config.kind, $0) }
                return
            } catch {
                if context.cancellation.isCancelled || attempt >= config.maxRetries { throw error }
                attempt += 1
                context.log.error("\(config.type) failed: \(error); retrying (\(attempt) of \(config.maxRetries), max_retries)")
            }
        }
    }

    private static func runOnce(_ kind: ProvisionerConfig.Kind, _ context: ProvisionerContext) throws {
        switch kind {
        case .shell(let shell): try ShellProvisioner(config: shell).run(context)
        case .file(let file): try FileProvisioner(config: file).run(context)
        case .shellLocal(let local): try ShellLocalProvisioner(config: local).run(context)
        case .customize(let customize): try CustomizeProvisioner(config: customize).run(context)
        }
    }

    /// Runs `body` with a cancellation that also fires after `seconds` (0: never), linked to the build's.
    private static func withTimeout(_ seconds: Double, _ context: ProvisionerContext,
                                    _ body: (ProvisionerContext) throws -> Void) throws {
        guard seconds > 0 else { return try body(context) }
        let limited = Cancellation()
        let outer = context.cancellation
        let link = outer.onCancel { limited.cancel(outer.cancelReason) }
        defer { context.cancellation.remove(link) }
        let timer = try Timer.after(seconds) { limited.cancel("timed out after \(Duration.format(seconds)) (timeout)") }
        defer { timer.stop() }
        let scoped = ProvisionerContext(communicator: context.communicator, log: context.log, cancellation: limited, template: context.template)
        do { try body(scoped) } catch {
            if limited.isCancelled && !context.cancellation.isCancelled { throw BuildError(limited.cancelReason) }
            throw error
        }
    }

    static func sleep(_ seconds: Double, _ cancellation: Cancellation) throws {
        if cancellation.sleep(seconds) { throw CancelledError(cancellation.cancelReason) }
    }
}
