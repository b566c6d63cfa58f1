import Glibc
import NBDCore

/// Packer's `shell-local`: scripts run on the host (not in the image) with `execute_command`.
struct ShellLocalProvisioner {
    let config: ShellLocalConfig

    func run(_ context: ProvisionerContext) throws {
        try run(template: context.template, log: context.log, cancellation: context.cancellation)
    }

    /// Also the `shell-local` post-processor's body: it needs no communicator.
    func run(template: TemplateContext, log: BuildLog, cancellation: Cancellation) throws {
        let packerEnvironment = template.packerEnvironment
        let variables = ShellVariables.flatten(packerEnvironment + config.environmentVars, format: "%s='%s' ")
        var environment: [String: String] = [:]
        for (name, value) in packerEnvironment + config.environmentVars { environment[name] = value }
        switch config.source {
        case .inline(let lines):
            let script = try TemporaryScript("#!\(config.inlineShebang)\n" + lines.joined(separator: "\n") + "\n")
            defer { script.remove() }
            try execute(script.path, variables, environment, template, log, cancellation)
        case .files(let files):
            for file in files { try execute(HostPath.absolute(file), variables, environment, template, log, cancellation) }
        }
    }

    private func execute(_ script: String, _ variables: String, _ environment: [String: String], _ template: TemplateContext,
                         _ log: BuildLog, _ cancellation: Cancellation) throws {
        let fields = ["Script": script, "Vars": variables, "Command": script]
        let argv = try config.executeCommand.map { try Interpolation.render($0, template.with(fields: fields)) }
        log.debug("shell-local: \(argv.joined(separator: " "))")
        let status = try HostShell.run(ShellVariables.quote(argv), environment: environment, log: log, cancellation: cancellation)
        guard case .exited(let code) = status, config.validExitCodes.contains(code) else {
            throw BuildError("shell-local script ended with \(status); allowed exit codes are \(config.validExitCodes.map(String.init).joined(separator: ", "))")
        }
    }
}

/// An executable script in a private host temp file, removed by `remove()`.
struct TemporaryScript {
    let path: String

    init(_ text: String) throws {
        let (path, file) = try TemporaryFile.make("qemu-chroot-local")
        self.path = path
        try file.writeAll(Array(text.utf8))
        try syscall("fchmod", path: path) { fchmod(file.rawValue, 0o700) }
        try file.close()
    }

    func remove() { unlink(path) }
}
