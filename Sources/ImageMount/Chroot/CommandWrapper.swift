import HostSystem
/// Quoting for /bin/sh: every argument in single quotes, embedded single quotes as '\''. Nothing inside
/// single quotes is special to the shell, so the result is exactly the argument.
public enum ShellQuote {
    public static func quote(_ argument: String) -> String {
        if !argument.isEmpty && argument.allSatisfy({ $0.isLetter && $0.isASCII || $0.isNumber && $0.isASCII || "-_./=:,+@%".contains($0) }) {
            return argument
        }
        return "'" + argument.replacingAll("'", with: "'\\''") + "'"
    }

    public static func join(_ arguments: [String]) -> String { arguments.map(quote).joined(separator: " ") }
}

/// The seed plugin's `command_wrapper`: a template in which `{{.Command}}` stands for the command line
/// that runs the user's command. We render that command line as `/bin/sh -c '<command>'` with real shell
/// quoting (the seed pasted the command into double quotes unescaped; upstream later used Go quoting,
/// which is still not shell quoting), and run the rendered text with `/bin/sh -c` inside the chroot.
/// The identity wrapper skips the extra shell.
public struct CommandWrapper: Equatable, Sendable {
    public static let identity = CommandWrapper(uncheckedTemplate: "{{.Command}}")

    public let template: String

    public init(_ template: String) throws {
        var rest = Substring(template)
        while let open = rest.firstRange(of: "{{") {
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw CommandWrapperError(template: template, problem: "'{{' without '}}'")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters()
            guard name == ".Command" else {
                throw CommandWrapperError(template: template, problem: "unknown variable {{\(name)}}; only {{.Command}} is available")
            }
            rest = rest[close.upperBound...]
        }
        self.template = template
    }

    private init(uncheckedTemplate: String) { template = uncheckedTemplate }

    /// The text `/bin/sh -c` runs for `command`.
    public func render(_ command: String) -> String {
        if template.filter({ !$0.isWhitespace }) == "{{.Command}}" { return command }
        let commandLine = ShellQuote.join(["/bin/sh", "-c", command])
        var output = ""
        var rest = Substring(template)
        while let open = rest.firstRange(of: "{{"), let close = rest[open.upperBound...].firstRange(of: "}}") {
            output += rest[..<open.lowerBound]
            output += commandLine
            rest = rest[close.upperBound...]
        }
        return output + rest
    }
}

public struct CommandWrapperError: Error, CustomStringConvertible {
    public let template: String
    public let problem: String
    public var description: String { "command_wrapper \"\(template)\": \(problem)" }
}

extension StringProtocol {
    func trimmingCharacters() -> String { String(self).trimmingWhitespace() }

    func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
