import FoundationEssentials
import Glibc

public struct InterpolationError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Renders Packer's Go-template subset in template strings: `{{user `x`}}`, `{{env `X`}}`,
/// `{{timestamp}}`, `{{build_name}}`, `{{build_type}}`, `{{isotime "layout"}}`, `{{uuid}}`, `{{pwd}}`,
/// `{{template_dir}}`, `{{upper x}}`/`{{lower x}}` on a nested call, and `{{.Field}}`.
public enum Interpolation: Sendable {
    static let functions = ["user", "env", "timestamp", "build_name", "build_type", "isotime", "uuid", "pwd",
                            "template_dir", "upper", "lower"]

    public static func render(_ text: String, _ context: TemplateContext) throws -> String {
        guard text.contains("{{") else { return text }
        var output = ""
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            output += rest[..<open.lowerBound]
            let inside = rest[open.upperBound...]
            guard let close = closingBraces(in: inside) else {
                throw InterpolationError(message: "unclosed \"{{\" in \"\(text)\"")
            }
            let expression = String(inside[..<close.lowerBound])
            output += try evaluate(expression, context, original: "{{\(expression)}}")
            rest = inside[close.upperBound...]
        }
        return output + rest
    }

    /// The first "}}" not inside a quoted argument.
    private static func closingBraces(in text: Substring) -> Range<Substring.Index>? {
        var quote: Character?
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "`" {
                quote = c
            } else if text[index...].hasPrefix("}}") {
                return index..<text.index(index, offsetBy: 2)
            }
            index = text.index(after: index)
        }
        return nil
    }

    private static func evaluate(_ expression: String, _ context: TemplateContext, original: String) throws -> String {
        var words = try tokenize(expression)
        // Go templates allow {{- x -}} whitespace trimming markers; they change nothing for us.
        if words.first == .bare("-") { words.removeFirst() }
        if words.last == .bare("-") { words.removeLast() }
        guard let head = words.first else { throw InterpolationError(message: "empty expression \(original)") }
        let arguments = Array(words.dropFirst())
        if case .bare(let name) = head, name.hasPrefix(".") {
            let field = String(name.dropFirst())
            guard arguments.isEmpty else { throw InterpolationError(message: "\(original): a field takes no arguments") }
            if let value = context.fields[field] { return value }
            if context.deferredFields.contains(field) { return original }
            let known = Array(context.fields.keys) + Array(context.deferredFields)
            let where_ = known.isEmpty ? "no fields are available here" : "available here: " + known.sorted().map { ".\($0)" }.joined(separator: ", ")
            throw InterpolationError(message: "unknown field \(original) (\(where_))\(Suggestion.phrase(for: field, among: known))")
        }
        guard case .bare(let function) = head else {
            throw InterpolationError(message: "\(original): expected a function name, got a string")
        }
        return try call(function, arguments, context, original: original)
    }

    private static func call(_ function: String, _ arguments: [Token], _ context: TemplateContext, original: String) throws -> String {
        func onlyArgument() throws -> String {
            guard arguments.count == 1 else { throw InterpolationError(message: "\(original): \(function) takes one argument") }
            switch arguments[0] {
            case .quoted(let value): return value
            case .bare(let name): return try call(name, [], context, original: original)
            }
        }
        func noArguments() throws {
            guard arguments.isEmpty else { throw InterpolationError(message: "\(original): \(function) takes no arguments") }
        }
        switch function {
        case "user":
            let name = try onlyArgument()
            guard let value = context.userVariables[name] else {
                throw InterpolationError(message: "user variable \"\(name)\" is not defined in \"variables\""
                    + Suggestion.phrase(for: name, among: Array(context.userVariables.keys)))
            }
            return value
        case "env":
            let name = try onlyArgument()
            guard context.allowsEnvironment else {
                throw InterpolationError(message: "\(original): env can only be used in a variable's default (Packer's rule); define a variable with {{env `\(name)`}} and use {{user `name`}} here")
            }
            return context.environment[name] ?? ""
        case "timestamp": try noArguments(); return String(context.startTime)
        case "build_name": try noArguments(); return context.buildName
        case "build_type": try noArguments(); return context.buildType
        case "isotime":
            let layout = arguments.isEmpty ? GoTimeLayout.rfc3339 : try onlyArgument()
            return GoTimeLayout.format(seconds: context.startTime, layout: layout)
        case "uuid": try noArguments(); return UUID().uuidString.lowercased()
        case "pwd": try noArguments(); return currentDirectory()
        case "template_dir": try noArguments(); return context.templateDirectory
        case "upper": return try onlyArgument().uppercased()
        case "lower": return try onlyArgument().lowercased()
        default:
            throw InterpolationError(message: "unknown function \"\(function)\" in \(original)"
                + Suggestion.phrase(for: function, among: functions))
        }
    }

    private enum Token: Equatable {
        case bare(String)
        case quoted(String)
    }

    private static func tokenize(_ expression: String) throws -> [Token] {
        var tokens: [Token] = []
        var rest = Substring(expression)
        while true {
            rest = rest.drop(while: { $0 == " " || $0 == "\t" || $0 == "\n" })
            guard let first = rest.first else { return tokens }
            if first == "\"" || first == "`" {
                let body = rest.dropFirst()
                guard let end = body.firstIndex(of: first) else {
                    throw InterpolationError(message: "unterminated string in {{\(expression)}}")
                }
                tokens.append(.quoted(String(body[..<end])))
                rest = body[body.index(after: end)...]
            } else if first == "(" || first == ")" || first == "|" {
                throw InterpolationError(message: "{{\(expression)}}: pipelines and parentheses are not supported by the standalone runner")
            } else {
                let word = rest.prefix(while: { $0 != " " && $0 != "\t" && $0 != "\n" })
                tokens.append(.bare(String(word)))
                rest = rest.dropFirst(word.count)
            }
        }
    }

    private static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(cString: buffer)
    }
}
