import Glibc
import NBDCore

/// Packer's `shell` provisioner over a communicator: each script (inline lines become one script with
/// `inline_shebang`) is uploaded to `remote_path`, run with `execute_command`, checked against
/// `valid_exit_codes`, then removed.
struct ShellProvisioner {
    let config: ShellConfig

    func run(_ context: ProvisionerContext) throws {
        let scripts: [(label: String, body: UploadSource)]
        switch config.source {
        case .inline(let lines):
            scripts = [("inline script", .bytes(Array(("#!\(config.inlineShebang)\n" + lines.joined(separator: "\n") + "\n").utf8)))]
        case .files(let files):
            scripts = files.map { ($0, .file($0)) }
        }
        let variables = ShellVariables.flatten(context.packerEnvironment + config.environmentVars, format: config.envVarFormat)
        for script in scripts {
            if context.cancellation.isCancelled { throw CancelledError(context.cancellation.cancelReason) }
            let remotePath = config.remotePath ?? "\(config.remoteFolder)/script_\(Int.random(in: 0..<10000)).sh"
            context.log.message("running \(script.label) as \(remotePath)")
            try context.communicator.upload(script.body, to: remotePath, mode: 0o755)
            let command = try Interpolation.render(config.executeCommand, context.template.with(fields: ["Path": remotePath, "Vars": variables]))
            context.log.debug("execute_command: \(command)")
            let status = try ShellProvisioner.execute(command, context)
            if !config.skipClean {
                _ = try? context.communicator.run(RemoteCommand("rm -f \(ShellVariables.quote(remotePath))"), cancellation: Cancellation())
            }
            guard case .exited(let code) = status, config.validExitCodes.contains(code) else {
                throw BuildError("\(script.label) ended with \(status); allowed exit codes are \(config.validExitCodes.map(String.init).joined(separator: ", ")) (valid_exit_codes)")
            }
        }
    }

    /// Runs `command` in the image, streaming its output into the build log line by line.
    static func execute(_ command: String, _ context: ProvisionerContext) throws -> ExitStatus {
        let out = LineStream { context.log.message($0) }
        let err = LineStream { context.log.message($0) }
        let status = try context.communicator.run(RemoteCommand(command, stdout: out.feed, stderr: err.feed),
                                                  cancellation: context.cancellation)
        out.flush()
        err.flush()
        if context.cancellation.isCancelled { throw CancelledError(context.cancellation.cancelReason) }
        return status
    }
}

/// Packer's `{{.Vars}}`: `NAME='value' ` pairs sorted by name, with values shell-quoted.
enum ShellVariables {
    static func flatten(_ pairs: [(name: String, value: String)], format: String) -> String {
        var merged: [String: String] = [:]
        for pair in pairs { merged[pair.name] = pair.value }
        return merged.keys.sorted().map { name in
            let escaped = merged[name]!.replacingAll("'", with: "'\"'\"'")
            var text = format
            if let first = text.firstRange(of: "%s") { text.replaceSubrange(first, with: name) }
            if let second = text.firstRange(of: "%s") { text.replaceSubrange(second, with: escaped) }
            return text
        }.joined().trimmingWhitespace()
    }

    static func quote(_ text: String) -> String { ShellQuote.quote(text) }

    /// An argv as one shell command line.
    static func quote(_ arguments: [String]) -> String { ShellQuote.join(arguments) }
}
