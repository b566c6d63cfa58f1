import Glibc
import NBDCore

/// Turns virt-customize's operation flags, in the order given, into checked `CustomizeOperation`s. Every
/// problem is a `CustomizeArgumentError` naming the flag, found before anything is attached. Passwords
/// are hashed here, on the host, so the clear text goes no further.
public struct CustomizeArguments {
    /// The operation flags, and whether each takes an argument.
    public static let flags: [(name: String, takesArgument: Bool)] = [
        ("run-command", true), ("run", true), ("upload", true), ("copy-in", true), ("write", true),
        ("append-line", true), ("mkdir", true), ("delete", true), ("move", true), ("link", true), ("chmod", true),
        ("touch", true), ("truncate", true), ("install", true), ("uninstall", true), ("update", false),
        ("hostname", true), ("timezone", true), ("root-password", true), ("password", true), ("ssh-inject", true),
        ("firstboot-command", true), ("firstboot", true), ("selinux-relabel", false), ("commands-from-file", true),
    ]

    public private(set) var operations: [CustomizeOperation] = []
    /// `random` passwords made for these users: shown once to the caller, never logged.
    public private(set) var randomPasswords: [(user: String, password: String)] = []
    /// Clear-text passwords seen, so the output can mask them should one ever appear.
    public private(set) var secrets: [String] = []
    let passwordMethod: PasswordHash.Method
    /// Where `--commands-from-file` and the home directory for key files are read; tests set it.
    let homeDirectory: String

    public init(passwordMethod: PasswordHash.Method = .sha512, homeDirectory: String? = nil) {
        self.passwordMethod = passwordMethod
        self.homeDirectory = homeDirectory ?? getenv("HOME").map { String(cString: $0) } ?? "/root"
    }

    /// Parses `arguments` (`--flag value`, `--flag=value`), appending to `operations` in order.
    public mutating func parse(_ arguments: [String]) throws {
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            guard word.hasPrefix("--") else {
                throw CustomizeArgumentError("customize", "an operation flag such as --run-command", got: word)
            }
            var name = String(word.dropFirst(2))
            var value: String?
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let known = Self.flags.first(where: { $0.name == name }) else {
                let names = Self.flags.map(\.name)
                let hint = Suggestion.closest(to: name, among: names).map { "; did you mean --\($0)?" } ?? ""
                throw CustomizeArgumentError("--\(name)", "a customize operation (qemu-chroot customize --help lists them)" + hint)
            }
            if known.takesArgument && value == nil {
                guard index < arguments.count else { throw CustomizeArgumentError("--\(name)", "an argument") }
                value = arguments[index]
                index += 1
            } else if !known.takesArgument, let value {
                throw CustomizeArgumentError("--\(name)", "no argument", got: value)
            }
            try add(name, value ?? "")
        }
    }

    /// One operation per line, as virt-customize reads `--commands-from-file`: `name argument`; blank
    /// lines and `#` comments are skipped, a line ending in `\` is joined with the next (the backslash and
    /// the newline removed, so `install a,\` + `b` is `install a,b`).
    public mutating func parseLines(_ text: String, source: String) throws {
        var pending = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = pending + raw
            pending = ""
            if line.hasSuffix("\\") {
                line.removeLast()
                pending = line
                continue
            }
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let name: String, argument: String?
            if let space = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) {
                name = String(trimmed[..<space])
                argument = String(trimmed[trimmed.index(after: space)...]).trimmingWhitespace()
            } else {
                name = trimmed
                argument = nil
            }
            let flag = name.hasPrefix("--") ? name : "--" + name
            do { try parse([flag] + (argument.map { [$0] } ?? [])) } catch let error as CustomizeArgumentError {
                throw CustomizeArgumentError(describing: "\(source): \(error)")
            }
        }
    }

    private mutating func add(_ name: String, _ value: String) throws {
        let flag = "--\(name)"
        switch name {
        case "run-command":
            guard !value.isEmpty else { throw CustomizeArgumentError(flag, "a shell command") }
            operations.append(.runCommand(value))
        case "run":
            operations.append(.run(script: try Self.hostFile(value, flag, "a readable host script")))
        case "upload":
            let (host, image) = try Self.pair(value, flag, "FILE:DEST with FILE a readable host file and DEST an absolute path in the image")
            operations.append(.upload(host: try Self.hostFile(host, flag, "FILE:DEST with FILE a readable host file"),
                                      image: try Self.imagePath(image, flag, "FILE:DEST")))
        case "copy-in":
            let (host, image) = try Self.pair(value, flag, "LOCALPATH:REMOTEDIR")
            guard HostPath.exists(host) else { throw CustomizeArgumentError(flag, "LOCALPATH:REMOTEDIR with LOCALPATH an existing host path", got: value) }
            operations.append(.copyIn(host: host, imageDirectory: try Self.imagePath(image, flag, "LOCALPATH:REMOTEDIR")))
        case "write":
            let (file, content) = try Self.pair(value, flag, "FILE:CONTENT", allowEmptySecond: true)
            operations.append(.write(file: try Self.imagePath(file, flag, "FILE:CONTENT"), content: content))
        case "append-line":
            let (file, line) = try Self.pair(value, flag, "FILE:LINE", allowEmptySecond: true)
            guard !line.contains("\n") else { throw CustomizeArgumentError(flag, "FILE:LINE with a LINE without newlines", got: value) }
            operations.append(.appendLine(file: try Self.imagePath(file, flag, "FILE:LINE"), line: line))
        case "mkdir": operations.append(.mkdir(try Self.imagePath(value, flag, "DIR")))
        case "delete":
            let path = try Self.imagePath(value, flag, "PATH")
            guard path.split(separator: "/").contains(where: { $0 != "." }) else {
                throw CustomizeArgumentError(flag, "a PATH other than the image's root", got: value)
            }
            operations.append(.delete(path))
        case "move":
            let (from, to) = try Self.pair(value, flag, "SOURCE:DEST")
            operations.append(.move(from: try Self.imagePath(from, flag, "SOURCE:DEST"), to: try Self.imagePath(to, flag, "SOURCE:DEST")))
        case "link":
            let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2, !parts[0].isEmpty else { throw CustomizeArgumentError(flag, "TARGET:LINK[:LINK...]", got: value) }
            operations.append(.link(target: parts[0], links: try parts.dropFirst().map { try Self.imagePath($0, flag, "TARGET:LINK[:LINK...]") }))
        case "chmod":
            let (mode, file) = try Self.pair(value, flag, "MODE:FILE with an octal MODE such as 0755")
            guard !mode.isEmpty, mode.count <= 5, let bits = UInt32(mode, radix: 8), bits <= 0o7777 else {
                throw CustomizeArgumentError(flag, "MODE:FILE with an octal MODE such as 0755", got: value)
            }
            operations.append(.chmod(mode: bits, file: try Self.imagePath(file, flag, "MODE:FILE")))
        case "touch": operations.append(.touch(try Self.imagePath(value, flag, "FILE")))
        case "truncate": operations.append(.truncate(try Self.imagePath(value, flag, "FILE")))
        case "install": operations.append(.install(try Self.packages(value, flag)))
        case "uninstall": operations.append(.uninstall(try Self.packages(value, flag)))
        case "update": operations.append(.update)
        case "hostname":
            guard Self.isHostname(value) else {
                throw CustomizeArgumentError(flag, "a host name of letters, digits and '-' in dot-separated labels of 1-63 characters", got: value)
            }
            operations.append(.hostname(value))
        case "timezone":
            let valid = !value.isEmpty && value.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { part in
                !part.isEmpty && part != "." && part != ".." && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_+-".contains($0)) }
            }
            guard valid else { throw CustomizeArgumentError(flag, "a time zone name such as Europe/Berlin or UTC", got: value) }
            operations.append(.timezone(value))
        case "root-password":
            operations.append(.password(user: "root", field: try shadowField(value, user: "root", flag)))
        case "password":
            let (user, selector) = try Self.pair(value, flag, "USER:SELECTOR (password:PW, file:FILE, random or disabled)")
            try Self.checkUser(user, flag)
            operations.append(.password(user: user, field: try shadowField(selector, user: user, flag)))
        case "ssh-inject":
            let (user, key) = try sshKey(value, flag)
            operations.append(.sshInject(user: user, key: key))
        case "firstboot-command":
            guard !value.isEmpty else { throw CustomizeArgumentError(flag, "a shell command") }
            operations.append(.firstbootCommand(value))
        case "firstboot": operations.append(.firstboot(script: try Self.hostFile(value, flag, "a readable host script")))
        case "selinux-relabel": operations.append(.selinuxRelabel)
        case "commands-from-file":
            let file = try Self.hostFile(value, flag, "a readable file of operations, one per line")
            try parseLines(try TextFile.read(file, limit: 1 << 20, what: "commands file"), source: "\(flag) \(file)")
        default: throw CustomizeArgumentError(flag, "a known operation")
        }
    }

    /// `password:PW`, `file:FILE` (its first line), `random`, `disabled`: hashed here.
    private mutating func shadowField(_ selector: String, user: String, _ flag: String) throws -> ShadowPassword {
        let expected = "password:PW, file:FILE, random or disabled"
        let password: String
        if selector == "disabled" { return .disabled }
        if selector == "random" {
            password = Self.randomPassword()
            randomPasswords.append((user, password))
        } else if selector.hasPrefix("password:") {
            password = String(selector.dropFirst("password:".count))
        } else if selector.hasPrefix("file:") {
            let file = String(selector.dropFirst("file:".count))
            guard HostPath.isReadableFile(file) else { throw CustomizeArgumentError(flag, "file:FILE with a readable FILE", got: "file:\(file)") }
            password = try TextFile.read(file, limit: 4096, what: "password file").split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        } else {
            // Not echoed: a mistyped selector may be the password itself.
            throw CustomizeArgumentError(flag, expected)
        }
        guard !password.isEmpty else { throw CustomizeArgumentError(flag, "a non-empty password (\(expected))") }
        secrets.append(password)
        return .hash(try PasswordHash.make(password, method: passwordMethod))
    }

    /// `USER`, `USER:file:KEY.pub`, `USER:string:KEY`; without a selector the first of the caller's
    /// ~/.ssh/id_{ed25519,ecdsa,rsa}.pub.
    private func sshKey(_ value: String, _ flag: String) throws -> (String, String) {
        let expected = "USER[:file:KEY.pub|:string:KEY]"
        let user: String, key: String
        if let colon = value.firstIndex(of: ":") {
            user = String(value[..<colon])
            let selector = String(value[value.index(after: colon)...])
            if selector.hasPrefix("string:") {
                key = String(selector.dropFirst("string:".count))
            } else if selector.hasPrefix("file:") {
                let file = String(selector.dropFirst("file:".count))
                guard HostPath.isReadableFile(file) else { throw CustomizeArgumentError(flag, "\(expected) with a readable key file", got: value) }
                key = try TextFile.read(file, limit: 64 << 10, what: "public key")
            } else {
                throw CustomizeArgumentError(flag, expected, got: value)
            }
        } else {
            user = value
            let candidates = ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"].map { "\(homeDirectory)/.ssh/\($0)" }
            guard let file = candidates.first(where: HostPath.isReadableFile) else {
                throw CustomizeArgumentError(flag, "\(expected); without a selector a key in \(homeDirectory)/.ssh (id_ed25519.pub, id_ecdsa.pub, id_rsa.pub)", got: value)
            }
            key = try TextFile.read(file, limit: 64 << 10, what: "public key")
        }
        try Self.checkUser(user, flag)
        let line = key.trimmingWhitespace()
        guard !line.isEmpty, !line.contains("\n"), line.split(separator: " ").count >= 2 else {
            throw CustomizeArgumentError(flag, "one public key line (TYPE BASE64 [COMMENT])", got: String(line.prefix(40)))
        }
        return (user, line)
    }

    static func randomPassword() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    private static func pair(_ value: String, _ flag: String, _ expected: String, allowEmptySecond: Bool = false) throws -> (String, String) {
        guard let colon = value.firstIndex(of: ":") else { throw CustomizeArgumentError(flag, expected, got: value) }
        let first = String(value[..<colon]), second = String(value[value.index(after: colon)...])
        guard !first.isEmpty, allowEmptySecond || !second.isEmpty else { throw CustomizeArgumentError(flag, expected, got: value) }
        return (first, second)
    }

    private static func imagePath(_ path: String, _ flag: String, _ expected: String) throws -> String {
        guard path.hasPrefix("/"), !path.contains("\0") else {
            throw CustomizeArgumentError(flag, "\(expected) with an absolute path in the image", got: path)
        }
        return path
    }

    private static func hostFile(_ path: String, _ flag: String, _ expected: String) throws -> String {
        guard HostPath.isReadableFile(path) else { throw CustomizeArgumentError(flag, expected, got: path) }
        return HostPath.absolute(path)
    }

    private static func packages(_ value: String, _ flag: String) throws -> [String] {
        let names = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        for name in names where name.isEmpty || name.hasPrefix("-") || name.contains(where: { $0.isWhitespace || $0 == "'" || $0 == "\"" }) {
            throw CustomizeArgumentError(flag, "PKG[,PKG...] with package names (no spaces, not starting with '-')", got: value)
        }
        return names
    }

    private static func checkUser(_ user: String, _ flag: String) throws {
        guard !user.isEmpty, !user.hasPrefix("-"), user.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw CustomizeArgumentError(flag, "a user name of letters, digits, '.', '_' or '-'", got: user)
        }
    }

    static func isHostname(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.count) && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }
}
