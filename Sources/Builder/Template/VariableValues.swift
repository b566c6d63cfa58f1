import NBDCore
/// User variables as a build sees them: defaults from the template (which may use `{{env}}` and other
/// variables), overridden by `-var-file` files and then `-var` flags, in command-line order.
public enum VariableValues: Sendable {
    /// One override from the command line, with where it came from for messages.
    public struct Override: Sendable {
        public let name: String
        public let value: String
        public let origin: String

        public init(name: String, value: String, origin: String) {
            self.name = name
            self.value = value
            self.origin = origin
        }
    }

    /// Parses `-var name=value`.
    public static func parseFlag(_ flag: String) throws -> Override {
        guard let eq = flag.firstIndex(of: "="), eq != flag.startIndex else {
            throw TemplateErrors([TemplateProblem("-var \(flag)", "expected name=value")])
        }
        return Override(name: String(flag[..<eq]), value: String(flag[flag.index(after: eq)...]), origin: "-var \(flag)")
    }

    /// Reads a var-file: a JSON object of variable names to string (or number/boolean) values.
    public static func readFile(_ path: String) throws -> [Override] {
        let text = try TextFile.read(path, limit: Template.maximumSize, what: "var-file")
        let root: JSONValue
        do { root = try JSONParser.parse(text) } catch {
            throw TemplateErrors([TemplateProblem("-var-file \(path)", "invalid JSON at \(error)")])
        }
        guard case .object(let members) = root else {
            throw TemplateErrors([TemplateProblem("-var-file \(path)", "expected a JSON object of name: value, got \(root.typeName)")])
        }
        let problems = ProblemList()
        let overrides = members.compactMap { name, value -> Override? in
            guard let text = JSONScalar.text(value) else {
                problems.add("-var-file \(path): \(name)", "expected a string, got \(value.typeName)")
                return nil
            }
            return Override(name: name, value: text, origin: "-var-file \(path)")
        }
        try problems.throwIfAny()
        return overrides
    }

    /// Resolves every variable; all problems (undefined overrides, unset required ones, bad defaults)
    /// are reported together.
    public static func resolve(_ template: Template, overrides: [Override], environment: [String: String],
                               problems: ProblemList) -> [String: String] {
        let declared = template.variables.map(\.name)
        var explicit: [String: String] = [:]
        for override in overrides {
            guard declared.contains(override.name) else {
                problems.add(override.origin, "variable \"\(override.name)\" is not declared in the template's \"variables\""
                    + Suggestion.phrase(for: override.name, among: declared))
                continue
            }
            explicit[override.name] = override.value
        }
        var resolved = explicit
        var pending = template.variables.filter { explicit[$0.name] == nil }
        for variable in pending where variable.defaultValue == nil {
            problems.add("variables.\(variable.name)", "required variable is not set; pass -var '\(variable.name)=...' or a -var-file")
        }
        pending.removeAll { $0.defaultValue == nil }
        // Defaults may refer to other variables: render those whose references are all known, repeatedly.
        var context = TemplateContext(userVariables: resolved, environment: environment)
        context.allowsEnvironment = true
        while !pending.isEmpty {
            var progressed = false
            pending.removeAll { variable in
                let references = userReferences(in: variable.defaultValue!)
                guard references.allSatisfy({ resolved[$0] != nil || !declared.contains($0) }) else { return false }
                context.userVariables = resolved
                do {
                    resolved[variable.name] = try Interpolation.render(variable.defaultValue!, context)
                } catch {
                    problems.add("variables.\(variable.name)", "\(error)")
                }
                progressed = true
                return true
            }
            if !progressed {
                for variable in pending {
                    problems.add("variables.\(variable.name)", "its default refers to variables that refer back to it (a cycle)")
                }
                break
            }
        }
        return resolved
    }

    /// Names used as {{user `name`}} in `text` (a simple scan; the renderer validates the syntax).
    static func userReferences(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let start = rest.firstRange(of: "user") {
            rest = rest[start.upperBound...].drop(while: { $0 == " " })
            guard let quote = rest.first, quote == "`" || quote == "\"" else { continue }
            let body = rest.dropFirst()
            guard let end = body.firstIndex(of: quote) else { break }
            names.append(String(body[..<end]))
            rest = body[end...]
        }
        return names
    }
}
