/// Reads the options of one builder or provisioner: each accessor checks the type, renders template
/// strings, and records a problem at `location.key` instead of stopping; `finish()` reports unknown keys
/// with a did-you-mean. Strings stand in for numbers and booleans as Packer's weak decoding allows.
public final class OptionReader {
    public let location: String
    private let options: [(key: String, value: JSONValue)]
    private let problems: ProblemList
    private let context: TemplateContext
    private var known: [String] = []

    public init(location: String, options: [(key: String, value: JSONValue)], context: TemplateContext, problems: ProblemList) {
        self.location = location
        self.options = options
        self.context = context
        self.problems = problems
    }

    public func problem(_ key: String, _ message: String) { problems.add("\(location).\(key)", message) }

    /// The raw value, marking `key` as known.
    public func value(_ key: String) -> JSONValue? {
        known.append(key)
        return options.last(where: { $0.key == key })?.value
    }

    public func isSet(_ key: String) -> Bool { options.contains { $0.key == key } }

    private func render(_ text: String, _ key: String, fields: Set<String>) -> String? {
        do { return try Interpolation.render(text, context.deferring(fields)) } catch {
            problem(key, "\(error)")
            return nil
        }
    }

    public func string(_ key: String, fields: Set<String> = []) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else {
            problem(key, "expected a string, got \(value.typeName)")
            return nil
        }
        return render(text, key, fields: fields)
    }

    /// A string whose value must be one of `choices`.
    public func choice(_ key: String, _ choices: [String]) -> String? {
        guard let text = string(key) else { return nil }
        guard choices.contains(text) else {
            problem(key, "\"\(text)\" is not one of \(choices.joined(separator: ", "))" + Suggestion.phrase(for: text, among: choices))
            return nil
        }
        return text
    }

    public func bool(_ key: String) -> Bool? {
        guard let value = value(key) else { return nil }
        switch value {
        case .bool(let flag): return flag
        case .string(let text):
            switch render(text, key, fields: []) {
            case "true", "1": return true
            case "false", "0", "": return false
            case nil: return nil
            case let other?: problem(key, "expected a boolean, got \"\(other)\""); return nil
            }
        default: problem(key, "expected a boolean, got \(value.typeName)"); return nil
        }
    }

    public func int(_ key: String) -> Int? {
        guard let value = value(key) else { return nil }
        switch value {
        case .number(let number) where number == number.rounded() && abs(number) < 1e15: return Int(number)
        case .string(let text):
            guard let rendered = render(text, key, fields: []) else { return nil }
            if let number = Int(rendered) { return number }
            problem(key, "expected a whole number, got \"\(rendered)\"")
            return nil
        default: problem(key, "expected a whole number, got \(value.typeName)"); return nil
        }
    }

    public func strings(_ key: String, fields: Set<String> = []) -> [String]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else {
            problem(key, "expected a list of strings, got \(value.typeName)")
            return nil
        }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                problem("\(key)[\(index)]", "expected a string, got \(item.typeName)")
                continue
            }
            if let rendered = render(text, "\(key)[\(index)]", fields: fields) { result.append(rendered) }
        }
        return result
    }

    /// `only` or `except`: names of the template's builders, each checked against `builderNames`.
    public func builderNames(_ key: String, among builderNames: [String]) -> [String] {
        let names = strings(key) ?? []
        for name in names where !builderNames.contains(name) {
            problem(key, "no builder is named \"\(name)\"" + Suggestion.phrase(for: name, among: builderNames))
        }
        return names
    }

    public func ints(_ key: String) -> [Int]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else {
            problem(key, "expected a list of whole numbers, got \(value.typeName)")
            return nil
        }
        return items.enumerated().compactMap { index, item in
            if case .number(let number) = item, number == number.rounded(), abs(number) < 1e9 { return Int(number) }
            problem("\(key)[\(index)]", "expected a whole number, got \(item.typeName)")
            return nil
        }
    }

    public func stringLists(_ key: String) -> [[String]]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else {
            problem(key, "expected a list of lists of strings, got \(value.typeName)")
            return nil
        }
        return items.enumerated().compactMap { index, item -> [String]? in
            guard case .array(let inner) = item else {
                problem("\(key)[\(index)]", "expected a list of strings, got \(item.typeName)")
                return nil
            }
            var row: [String] = []
            for (column, element) in inner.enumerated() {
                guard case .string(let text) = element,
                      let rendered = render(text, "\(key)[\(index)][\(column)]", fields: []) else {
                    if case .string = element {} else { problem("\(key)[\(index)][\(column)]", "expected a string, got \(element.typeName)") }
                    return nil
                }
                row.append(rendered)
            }
            return row
        }
    }

    /// Reports every key no accessor asked for. Packer's own `packer_*` keys (sent by Packer to plugins)
    /// are accepted silently. `equivalents` maps another builder's key to the words that name ours (a
    /// spelling did-you-mean cannot find `disk_size` from `root_volume_size`).
    public func finish(equivalents: [String: String] = [:]) {
        for (key, _) in options where !known.contains(key) && !key.hasPrefix("packer_") {
            problem(key, "unknown option" + (equivalents[key] ?? Suggestion.phrase(for: key, among: known)))
        }
    }
}
