import NBDCore

/// One operation of `qemu-chroot customize`, with virt-customize's name and meaning, its argument checked.
/// Image paths are absolute paths inside the image; the provisioner resolves them in the chroot.
public enum CustomizeOperation: Sendable, Equatable {
    case runCommand(String)
    /// A host script, uploaded and run in the image.
    case run(script: String)
    case upload(host: String, image: String)
    case copyIn(host: String, imageDirectory: String)
    case write(file: String, content: String)
    case appendLine(file: String, line: String)
    case mkdir(String)
    case delete(String)
    case move(from: String, to: String)
    case link(target: String, links: [String])
    case chmod(mode: UInt32, file: String)
    case touch(String)
    case truncate(String)
    case install([String])
    case uninstall([String])
    case update
    case hostname(String)
    case timezone(String)
    /// A shadow password field: a hash made on the host, or `*` (disabled); never the clear text.
    case password(user: String, field: ShadowPassword)
    case sshInject(user: String, key: String)
    case firstbootCommand(String)
    case firstboot(script: String)
    case selinuxRelabel
    /// A sysprep operation (`qemu-chroot sysprep`), run as one more step of the same kind.
    case sysprep(SysprepOperation)

    /// The flag as the user wrote it, for the plan, the log and errors.
    public var flag: String {
        switch self {
        case .runCommand: "--run-command"
        case .run: "--run"
        case .upload: "--upload"
        case .copyIn: "--copy-in"
        case .write: "--write"
        case .appendLine: "--append-line"
        case .mkdir: "--mkdir"
        case .delete: "--delete"
        case .move: "--move"
        case .link: "--link"
        case .chmod: "--chmod"
        case .touch: "--touch"
        case .truncate: "--truncate"
        case .install: "--install"
        case .uninstall: "--uninstall"
        case .update: "--update"
        case .hostname: "--hostname"
        case .timezone: "--timezone"
        case .password(let user, _): user == "root" ? "--root-password" : "--password"
        case .sshInject: "--ssh-inject"
        case .firstbootCommand: "--firstboot-command"
        case .firstboot: "--firstboot"
        case .selinuxRelabel: "--selinux-relabel"
        case .sysprep: "sysprep"
        }
    }

    /// The argument for display: never a password or its hash.
    public var argument: String {
        switch self {
        case .runCommand(let text), .mkdir(let text), .delete(let text), .touch(let text), .truncate(let text),
             .hostname(let text), .timezone(let text), .firstbootCommand(let text):
            text
        case .run(let script), .firstboot(let script): script
        case .upload(let host, let image): "\(host):\(image)"
        case .copyIn(let host, let directory): "\(host):\(directory)"
        case .write(let file, let content): "\(file):\(content.count) bytes"
        case .appendLine(let file, let line): "\(file):\(line)"
        case .move(let from, let to): "\(from):\(to)"
        case .link(let target, let links): ([target] + links).joined(separator: ":")
        case .chmod(let mode, let file): "0\(String(mode, radix: 8)):\(file)"
        case .install(let packages), .uninstall(let packages): packages.joined(separator: ",")
        case .update, .selinuxRelabel: ""
        case .password(let user, let field): user == "root" ? field.description : "\(user):\(field.description)"
        case .sshInject(let user, let key): "\(user):\(key.split(separator: " ").prefix(1).joined()) key"
        case .sysprep(let operation): operation.rawValue
        }
    }

    public var description: String { argument.isEmpty ? flag : "\(flag) \(argument)" }
}

/// What `--root-password`/`--password` put in /etc/shadow.
public enum ShadowPassword: Sendable, Equatable, CustomStringConvertible {
    case hash(String)
    /// `*`: no password logs in (keys still do).
    case disabled

    public var field: String {
        switch self {
        case .hash(let hash): hash
        case .disabled: "*"
        }
    }

    public var description: String {
        switch self {
        case .hash(let hash): "<hash \(hash.split(separator: "$").first.map { "$\($0)$" } ?? "")>"
        case .disabled: "disabled"
        }
    }
}

/// A bad argument: one line naming the flag and what it expected.
public struct CustomizeArgumentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ flag: String, _ expected: String, got argument: String? = nil) {
        description = "\(flag): expected \(expected)" + (argument.map { ", got \"\($0)\"" } ?? "")
    }

    init(describing description: String) { self.description = description }
}
