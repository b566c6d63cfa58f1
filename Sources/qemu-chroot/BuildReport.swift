import Builder
import NBDCore

/// `build --json`: the one document printed on stdout when the run ends (its fields are documented in
/// docs/builder.md, "Machine-readable result").
enum BuildReport {
    static func json(_ results: [BuildResult], exit: BuildExit, error: String? = nil) -> JSONValue {
        .object(fields(results, exit: exit, error: error))
    }

    /// The document's fields, for commands (`customize`, `sysprep`) that add their own after them.
    static func fields(_ results: [BuildResult], exit: BuildExit, error: String? = nil) -> [(key: String, value: JSONValue)] {
        var fields: [(key: String, value: JSONValue)] = [("exit_code", .int(Int64(exit.rawValue))), ("outcome", .string(outcome(exit)))]
        if let error { fields.append(("error", .string(error))) }
        fields.append(("builds", .array(results.map(build))))
        return fields
    }

    private static func build(_ result: BuildResult) -> JSONValue {
        // An image changed in place (customize without -o) is not hashed: its sha256 is null.
        let artifact: JSONValue = result.artifact.map { artifact in
            .object([("path", .string(artifact.path)), ("format", .string(artifact.format.rawValue)),
                     ("size", .uint(artifact.size)),
                     ("sha256", artifact.sha256.isEmpty ? .null : .string(artifact.sha256))])
        } ?? .null
        let phases = result.timings.map { JSONValue.object([("name", .string($0.step)), ("milliseconds", .int(Int64(($0.seconds * 1000).rounded())))]) }
        return .object([("name", .string(result.name)), ("artifact", artifact), ("phases", .array(phases)),
                        ("error", result.error.map { .string(String(describing: $0)) } ?? .null)])
    }

    static func outcome(_ exit: BuildExit) -> String {
        switch exit {
        case .success: return "success"
        case .buildFailed: return "build failed"
        case .invalidTemplate: return "invalid template"
        case .hostLacksRequirement: return "host lacks a requirement"
        case .interrupted: return "interrupted"
        }
    }
}
