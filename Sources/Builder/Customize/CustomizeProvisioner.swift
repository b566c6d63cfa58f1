import Glibc
import NBDCore

/// The `customize` provisioner: virt-customize's operations in order, through the `Communicator`, so they
/// run the same in `qemu-chroot customize`, in a template and under Packer.
public struct CustomizeConfig: Sendable {
    public var operations: [CustomizeOperation]

    public init(operations: [CustomizeOperation]) { self.operations = operations }

    /// In a template: `"commands": ["install curl", "hostname web1", ...]`, one operation per string as
    /// `--commands-from-file` reads them; `password_crypto` as the CLI flag.
    static func read(_ reader: OptionReader) -> CustomizeConfig {
        let lines = reader.strings("commands") ?? []
        if lines.isEmpty { reader.problem("commands", "is required: operations such as \"run-command echo hi\", one per string") }
        var method = PasswordHash.Method.sha512
        if let name = reader.choice("password_crypto", PasswordHash.Method.allCases.map(\.rawValue)) {
            method = PasswordHash.Method(rawValue: name)!
        }
        var arguments = CustomizeArguments(passwordMethod: method)
        do {
            try arguments.parseLines(lines.joined(separator: "\n"), source: "commands")
        } catch {
            reader.problem("commands", "\(error)")
        }
        return CustomizeConfig(operations: arguments.operations)
    }
}

struct CustomizeProvisioner {
    let config: CustomizeConfig

    func run(_ context: ProvisionerContext) throws {
        let shell = ImageShell(context: context)
        for (index, operation) in config.operations.enumerated() {
            if context.cancellation.isCancelled { throw CancelledError(context.cancellation.cancelReason) }
            context.log.message("[\(index + 1)/\(config.operations.count)] \(operation.description)")
            try apply(operation, shell)
        }
    }

    private func apply(_ operation: CustomizeOperation, _ shell: ImageShell) throws {
        let what = operation.description
        let q = ImageShell.quote
        switch operation {
        case .runCommand(let command):
            try shell.run(command, for: what, exitOnError: false)
        case .run(let script):
            let remote = "/tmp/qemu-chroot-run-\(UInt32.random(in: 0...UInt32.max)).sh"
            try shell.context.communicator.upload(.file(script), to: remote, mode: 0o755)
            defer { _ = try? shell.holds("rm -f \(q(remote))") }
            try shell.run(q(remote), for: what)
        case .upload(let host, let image):
            var destination = image
            if try shell.holds("test -d \(q(image))") { destination += (image.hasSuffix("/") ? "" : "/") + PathName.base(host) }
            try shell.context.communicator.upload(.file(host), to: destination, mode: try HostPath.permissions(host))
        case .copyIn(let host, let directory):
            guard try shell.holds("test -d \(q(directory))") else {
                throw BuildError("\(what): \(directory) is not a directory in the image (create it first with --mkdir)")
            }
            if HostPath.isDirectory(host) {
                // Without a trailing slash the directory itself is copied, not only its contents.
                var source = host
                while source.count > 1 && source.hasSuffix("/") { source.removeLast() }
                try shell.context.communicator.uploadDirectory(source, to: directory, excluding: [])
            } else {
                try shell.context.communicator.upload(.file(host), to: "\(directory)/\(PathName.base(host))", mode: try HostPath.permissions(host))
            }
        case .write(let file, let content):
            try shell.write(file, content)
        case .appendLine(let file, let line):
            var text = try shell.read(file) ?? ""
            let newline = text.contains("\r\n") ? "\r\n" : "\n"
            if !text.isEmpty && !text.hasSuffix("\n") { text += newline }
            try shell.write(file, text + line + newline)
        case .mkdir(let path): try shell.run("mkdir -p -- \(q(path))", for: what)
        case .delete(let path): try shell.run("rm -rf -- \(q(path))", for: what)
        case .move(let from, let to): try shell.run("mv -- \(q(from)) \(q(to))", for: what)
        case .link(let target, let links):
            try shell.run(links.map { "ln -sf -- \(q(target)) \(q($0))" }.joined(separator: "\n"), for: what)
        case .chmod(let mode, let file): try shell.run("chmod 0\(String(mode, radix: 8)) -- \(q(file))", for: what)
        case .touch(let file): try shell.run("touch -- \(q(file))", for: what)
        case .truncate(let file):
            try shell.run("if [ ! -f \(q(file)) ]; then echo \(q("\(file) is not a file in the image")) >&2; exit 1; fi\n: > \(q(file))", for: what)
        case .install(let packages):
            let manager = try shell.packageManager(for: what)
            try shell.run(manager.environment + manager.install(packages), for: what)
        case .uninstall(let packages):
            let manager = try shell.packageManager(for: what)
            try shell.run(manager.environment + manager.uninstall(packages), for: what)
        case .update:
            let manager = try shell.packageManager(for: what)
            try shell.run(manager.environment + manager.update, for: what)
        case .hostname(let name): try shell.setHostname(name, for: what)
        case .timezone(let zone): try shell.setTimezone(zone, for: what)
        case .password(let user, let field): try shell.setPassword(user, field, for: what)
        case .sshInject(let user, let key): try shell.injectKey(key, user: user, for: what)
        case .firstbootCommand(let command):
            try shell.addFirstboot(Array("#!/bin/sh\n\(command)\n".utf8), label: command, for: what)
        case .firstboot(let script):
            let file = try FileDescriptor.open(script, O_RDONLY)
            defer { try? file.close() }
            try shell.addFirstboot(try file.read(count: 16 << 20), label: PathName.base(script), for: what)
        case .selinuxRelabel: try shell.selinuxRelabel(for: what)
        case .sysprep(let operation): try shell.run(operation.script, for: "sysprep \(operation.rawValue)")
        }
    }
}
