/// One provisioner from the template, checked: its kind-specific options plus the options Packer gives
/// every provisioner (`only`, `except`, `pause_before`, `max_retries`, `timeout`).
public struct ProvisionerConfig: Sendable {
    public enum Kind: Sendable {
        case shell(ShellConfig)
        case file(FileConfig)
        case shellLocal(ShellLocalConfig)
        case customize(CustomizeConfig)
    }

    public static let supportedTypes = ["shell", "file", "shell-local", "customize"]

    public let index: Int
    public let type: String
    public let kind: Kind
    public var only: [String] = []
    public var except: [String] = []
    public var pauseBefore: Double = 0
    public var maxRetries = 0
    /// Seconds; 0 means no limit.
    public var timeout: Double = 0

    public var location: String { "provisioners[\(index)]" }

    /// Whether this provisioner runs for the build named `buildName` (Packer's only/except).
    public func applies(to buildName: String) -> Bool {
        if !only.isEmpty && !only.contains(buildName) { return false }
        return !except.contains(buildName)
    }

    public static func read(_ entry: Template.ProvisionerEntry, builderNames: [String], context: TemplateContext,
                            problems: ProblemList) -> ProvisionerConfig? {
        let reader = OptionReader(location: entry.location, options: entry.options, context: context, problems: problems)
        _ = reader.value("type")
        let only = reader.builderNames("only", among: builderNames)
        let except = reader.builderNames("except", among: builderNames)
        let pause = reader.string("pause_before").flatMap { duration($0, "pause_before", reader) } ?? 0
        let timeout = reader.string("timeout").flatMap { duration($0, "timeout", reader) } ?? 0
        let retries = reader.int("max_retries") ?? 0
        if reader.value("override") != nil {
            reader.problem("override", "per-builder overrides are not supported by the standalone runner; use only/except")
        }
        let kind: Kind
        switch entry.type {
        case "shell": kind = .shell(ShellConfig.read(reader))
        case "file": kind = .file(FileConfig.read(reader))
        case "shell-local": kind = .shellLocal(ShellLocalConfig.read(reader))
        case "customize": kind = .customize(CustomizeConfig.read(reader))
        default:
            problems.add("\(entry.location).type", "provisioner type \"\(entry.type)\" is not supported by the standalone runner; use packer build"
                + Suggestion.phrase(for: entry.type, among: supportedTypes))
            return nil
        }
        reader.finish()
        return ProvisionerConfig(index: entry.index, type: entry.type, kind: kind, only: only, except: except,
                                 pauseBefore: pause, maxRetries: max(0, retries), timeout: timeout)
    }

    /// Go durations as Packer writes them: "10s", "1m30s", "500ms", "2h".
    static func duration(_ text: String, _ key: String, _ reader: OptionReader) -> Double? {
        if let parsed = GoDuration.seconds(text) { return parsed }
        reader.problem(key, "\"\(text)\" is not a duration; use e.g. \"10s\", \"1m30s\"")
        return nil
    }
}

enum GoDuration {
    static func seconds(_ text: String) -> Double? {
        if text == "0" { return 0 }
        let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix(while: { $0.isNumber || $0 == "." })
            guard let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            total += value * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return total
    }
}
