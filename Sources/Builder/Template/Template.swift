import NBDCore

/// A Packer JSON template as written, before variables are resolved: the structure is checked here,
/// the options of each builder and provisioner when a build is planned (`BuildPlan`).
public struct Template: Sendable {
    public struct Variable: Sendable {
        public let name: String
        /// nil: the variable is required (`"name": null` in Packer).
        public let defaultValue: String?
    }

    public struct BuilderEntry: Sendable {
        public let index: Int
        public let type: String
        /// `name`, or the type when unnamed: what `-only`, `only` and `{{build_name}}` refer to.
        public let name: String
        public let options: [(key: String, value: JSONValue)]
        public var location: String { "builders[\(index)]" }
    }

    public struct ProvisionerEntry: Sendable {
        public let index: Int
        public let type: String
        public let options: [(key: String, value: JSONValue)]
        public var location: String { "provisioners[\(index)]" }
    }

    public let path: String
    public let description: String?
    public let variables: [Variable]
    public let sensitiveVariables: [String]
    /// One post-processor as written; `sequence` is its place in `post-processors`, `position` its place in
    /// that sequence (a bare string or object is a sequence of one).
    public struct PostProcessorEntry: Sendable {
        public let sequence: Int
        public let position: Int
        public let nested: Bool
        public let type: String
        public let options: [(key: String, value: JSONValue)]
        public var location: String { nested ? "post-processors[\(sequence)][\(position)]" : "post-processors[\(sequence)]" }
    }

    public let builders: [BuilderEntry]
    public let provisioners: [ProvisionerEntry]
    public let postProcessors: [[PostProcessorEntry]]
    /// Problems in the structure; `BuildPlan.make` reports them together with the options' problems.
    public let structuralProblems: [TemplateProblem]

    static let topLevelKeys = ["description", "min_packer_version", "variables", "sensitive-variables",
                               "builders", "provisioners", "post-processors", "_comment"]
    /// Largest template accepted: templates are small; this bounds what hostile input can make us allocate.
    static let maximumSize = 4 << 20

    /// Reads the template at `path`; throws only when it is not a JSON object (problems in its structure
    /// are kept for `BuildPlan.make`, so that every problem is reported together).
    public static func load(path: String) throws -> Template {
        let text = try TextFile.read(path, limit: maximumSize, what: "template")
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String = "template.json") throws -> Template {
        let root: JSONValue
        do { root = try JSONParser.parse(text) } catch let error as JSONParser.SyntaxError {
            throw TemplateErrors([TemplateProblem(path, "invalid JSON at \(error)")])
        }
        guard case .object(let members) = root else {
            throw TemplateErrors([TemplateProblem(path, "a template is a JSON object, got \(root.typeName)")])
        }
        let problems = ProblemList()
        for (key, _) in members where !topLevelKeys.contains(key) {
            problems.add(key, "unknown top-level key\(Suggestion.phrase(for: key, among: topLevelKeys))")
        }
        var description: String?
        if let value = root["description"] {
            if case .string(let text) = value { description = text } else {
                problems.add("description", "expected a string, got \(value.typeName)")
            }
        }
        let template = Template(
            path: path, description: description,
            variables: readVariables(root["variables"], problems),
            sensitiveVariables: readStrings(root["sensitive-variables"], "sensitive-variables", problems),
            builders: readBuilders(root["builders"], problems),
            provisioners: readProvisioners(root["provisioners"], problems),
            postProcessors: readPostProcessors(root["post-processors"], problems),
            structuralProblems: problems.problems)
        return template
    }

    private static func readVariables(_ value: JSONValue?, _ problems: ProblemList) -> [Variable] {
        guard let value else { return [] }
        guard case .object(let members) = value else {
            problems.add("variables", "expected an object of name: default, got \(value.typeName)")
            return []
        }
        return members.compactMap { name, value in
            switch value {
            case .null: return Variable(name: name, defaultValue: nil)
            case .string(let text): return Variable(name: name, defaultValue: text)
            case .number, .bool: return Variable(name: name, defaultValue: JSONScalar.text(value))
            default:
                problems.add("variables.\(name)", "a variable's default is a string (or null when required), got \(value.typeName)")
                return nil
            }
        }
    }

    private static func readStrings(_ value: JSONValue?, _ location: String, _ problems: ProblemList) -> [String] {
        guard let value else { return [] }
        guard case .array(let items) = value else {
            problems.add(location, "expected a list of strings, got \(value.typeName)")
            return []
        }
        return items.enumerated().compactMap { index, item in
            if case .string(let text) = item { return text }
            problems.add("\(location)[\(index)]", "expected a string, got \(item.typeName)")
            return nil
        }
    }

    private static func entries(_ value: JSONValue?, _ key: String, _ problems: ProblemList)
        -> [(index: Int, type: String, options: [(key: String, value: JSONValue)])] {
        guard let value else { return [] }
        guard case .array(let items) = value else {
            problems.add(key, "expected a list of objects, got \(value.typeName)")
            return []
        }
        return items.enumerated().compactMap { index, item in
            guard case .object(let options) = item else {
                problems.add("\(key)[\(index)]", "expected an object, got \(item.typeName)")
                return nil
            }
            guard case .string(let type)? = item["type"] else {
                problems.add("\(key)[\(index)].type", item["type"] == nil ? "is required" : "expected a string")
                return nil
            }
            return (index, type, options)
        }
    }

    private static func readBuilders(_ value: JSONValue?, _ problems: ProblemList) -> [BuilderEntry] {
        let list = entries(value, "builders", problems)
        if value == nil || (value == .array([])) { problems.add("builders", "at least one builder is required") }
        var seen = Set<String>()
        return list.compactMap { index, type, options -> BuilderEntry? in
            var name = type
            if let value = options.last(where: { $0.key == "name" })?.value {
                guard case .string(let text) = value, !text.isEmpty else {
                    problems.add("builders[\(index)].name", "expected a non-empty string")
                    return nil
                }
                name = text
            }
            if !seen.insert(name).inserted {
                problems.add("builders[\(index)].name", "builder name \"\(name)\" is used twice; give each builder a unique \"name\"")
            }
            if type != BuilderConfig.type {
                problems.add("builders[\(index)].type", "unknown builder type \"\(type)\"; this runner builds \"\(BuilderConfig.type)\""
                    + Suggestion.phrase(for: type, among: [BuilderConfig.type]))
            }
            return BuilderEntry(index: index, type: type, name: name, options: options)
        }
    }

    /// Packer's forms: each element of `post-processors` is a type name, an object, or a list of those (a
    /// sequence, each getting the previous one's artifact).
    private static func readPostProcessors(_ value: JSONValue?, _ problems: ProblemList) -> [[PostProcessorEntry]] {
        guard let value else { return [] }
        guard case .array(let sequences) = value else {
            problems.add("post-processors", "expected a list, got \(value.typeName)")
            return []
        }
        func entry(_ item: JSONValue, _ sequence: Int, _ position: Int, nested: Bool) -> PostProcessorEntry? {
            let location = nested ? "post-processors[\(sequence)][\(position)]" : "post-processors[\(sequence)]"
            switch item {
            case .string(let type):
                return PostProcessorEntry(sequence: sequence, position: position, nested: nested, type: type, options: [("type", item)])
            case .object(let options):
                guard case .string(let type)? = item["type"] else {
                    problems.add("\(location).type", item["type"] == nil ? "is required" : "expected a string")
                    return nil
                }
                return PostProcessorEntry(sequence: sequence, position: position, nested: nested, type: type, options: options)
            default:
                problems.add(location, "expected a post-processor type, an object or a list of them, got \(item.typeName)")
                return nil
            }
        }
        return sequences.enumerated().compactMap { index, item -> [PostProcessorEntry]? in
            if case .array(let members) = item {
                let sequence = members.enumerated().compactMap { entry($0.element, index, $0.offset, nested: true) }
                return sequence.isEmpty ? nil : sequence
            }
            return entry(item, index, 0, nested: false).map { [$0] }
        }
    }

    private static func readProvisioners(_ value: JSONValue?, _ problems: ProblemList) -> [ProvisionerEntry] {
        entries(value, "provisioners", problems).map { ProvisionerEntry(index: $0.index, type: $0.type, options: $0.options) }
    }
}
