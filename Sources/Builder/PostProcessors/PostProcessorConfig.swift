/// One post-processor from the template, checked: its kind's options plus Packer's common ones (`name`,
/// `only`, `except`, `keep_input_artifact`). The standalone runner has Packer's `checksum`, `manifest`,
/// `compress` and `shell-local`; any other type is an error that points to `packer build`.
public struct PostProcessorConfig: Sendable {
    public enum Kind: Sendable {
        case checksum(ChecksumConfig)
        case manifest(ManifestConfig)
        case compress(CompressConfig)
        case shellLocal(ShellLocalConfig)
    }

    public static let supportedTypes = ["checksum", "manifest", "compress", "shell-local"]
    /// What post-processor `output` templates may name besides the builder's generated data.
    static let outputFields: Set<String> = ["BuildName", "BuilderType", "ChecksumType", "ImageName", "OutputDir"]

    public let location: String
    public let type: String
    public let name: String
    public let kind: Kind
    public let only: [String]
    public let except: [String]
    /// nil: the post-processor's own default (Packer's semantics).
    public let keepInputArtifact: Bool?

    public func applies(to buildName: String) -> Bool {
        if !only.isEmpty && !only.contains(buildName) { return false }
        return !except.contains(buildName)
    }

    public static func read(_ entry: Template.PostProcessorEntry, builderNames: [String], context: TemplateContext,
                            problems: ProblemList) -> PostProcessorConfig? {
        let reader = OptionReader(location: entry.location, options: entry.options, context: context, problems: problems)
        _ = reader.value("type")
        let name = reader.string("name") ?? entry.type
        let only = reader.builderNames("only", among: builderNames)
        let except = reader.builderNames("except", among: builderNames)
        let keep = reader.bool("keep_input_artifact")
        let kind: Kind
        switch entry.type {
        case "checksum": kind = .checksum(ChecksumConfig.read(reader))
        case "manifest": kind = .manifest(ManifestConfig.read(reader))
        case "compress": kind = .compress(CompressConfig.read(reader))
        case "shell-local": kind = .shellLocal(ShellLocalConfig.read(reader))
        default:
            problems.add("\(entry.location).type", "post-processor type \"\(entry.type)\" is not supported by the standalone runner; use packer build"
                + Suggestion.phrase(for: entry.type, among: supportedTypes))
            return nil
        }
        reader.finish()
        return PostProcessorConfig(location: entry.location, type: entry.type, name: name, kind: kind, only: only,
                                   except: except, keepInputArtifact: keep)
    }
}

/// `checksum`: one file per checksum type listing `HEX<TAB>name` for each file of the input artifact.
public struct ChecksumConfig: Sendable {
    /// Packer's types, each computed by coreutils' `<type>sum`.
    public static let types = ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]
    public var checksumTypes = ["md5"]
    public var output = "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum"

    static func read(_ reader: OptionReader) -> ChecksumConfig {
        var config = ChecksumConfig()
        if let types = reader.strings("checksum_types") {
            for type in types where !Self.types.contains(type) {
                reader.problem("checksum_types", "unrecognized checksum type \"\(type)\"; one of \(Self.types.joined(separator: ", "))"
                    + Suggestion.phrase(for: type, among: Self.types))
            }
            config.checksumTypes = types
        }
        if let output = reader.string("output", fields: PostProcessorConfig.outputFields), !output.isEmpty { config.output = output }
        return config
    }
}

/// `manifest`: appends the build (name, type, time, files with sizes, id, run UUID, custom data) to a JSON file.
public struct ManifestConfig: Sendable {
    public var output = "packer-manifest.json"
    public var stripPath = false
    public var stripTime = false
    public var customData: [(key: String, value: String)]?

    static func read(_ reader: OptionReader) -> ManifestConfig {
        var config = ManifestConfig()
        if let output = reader.string("output", fields: PostProcessorConfig.outputFields), !output.isEmpty { config.output = output }
        config.stripPath = reader.bool("strip_path") ?? false
        config.stripTime = reader.bool("strip_time") ?? false
        if let value = reader.value("custom_data") {
            guard case .object(let members) = value else {
                reader.problem("custom_data", "expected an object of strings, got \(value.typeName)")
                return config
            }
            config.customData = members.compactMap { key, value in
                guard case .string(let text) = value else {
                    reader.problem("custom_data.\(key)", "expected a string, got \(value.typeName)")
                    return nil
                }
                return (key, text)
            }
        }
        return config
    }
}

/// `compress`: the input's files into one archive whose format the output's extension chooses, as Packer's
/// detectFromFilename does: `.tar`, `.zip`, `.gz`, `.xz`, `.bzip2`, `.lz4`, `.tar.<compression>`; no known
/// extension means tar + gzip. Without tar or zip the input must be a single file, compressed directly.
public struct CompressConfig: Sendable {
    public enum Archive: Sendable, Equatable { case none, tar, zip }
    public enum Algorithm: String, Sendable, Equatable { case gzip, xz, bzip2, lz4 }

    public var output = "packer_{{.BuildName}}_{{.BuilderType}}"
    public var archive = Archive.tar
    public var algorithm: Algorithm? = .gzip
    /// Packer's compression_level: -1 or 0 is the default (6), above 9 is 9.
    public var level = 6

    static let extensions: [String: Algorithm] = ["gz": .gzip, "xz": .xz, "bzip2": .bzip2, "lz4": .lz4]

    static func read(_ reader: OptionReader) -> CompressConfig {
        var config = CompressConfig()
        if let output = reader.string("output", fields: PostProcessorConfig.outputFields), !output.isEmpty { config.output = output }
        let format = reader.string("format") ?? ""
        if let level = reader.int("compression_level") {
            if level < -1 { reader.problem("compression_level", "expected -1 to 9, got \(level)") }
            config.level = level <= 0 ? 6 : min(level, 9)
        }
        if reader.isSet("format"), format.isEmpty { reader.problem("format", "must not be empty") }
        if let detected = detect(format.isEmpty ? config.output : config.output + "." + format) {
            (config.archive, config.algorithm) = detected
        } else {
            reader.problem(format.isEmpty ? "output" : "format", "bgzf compression is not supported by the standalone runner; use packer build")
        }
        return config
    }

    /// The last two `.ext` of `name` (lower-case letters and digits, as Packer's pattern).
    /// nil for bgzf, which we cannot write.
    static func detect(_ name: String) -> (Archive, Algorithm?)? {
        var suffixes: [String] = []
        var rest = Substring(name)
        while let dot = rest.lastIndex(of: ".") {
            let ext = rest[rest.index(after: dot)...]
            guard !ext.isEmpty, ext.allSatisfy({ ($0.isLetter && $0.isLowercase) || $0.isNumber }), ext.allSatisfy(\.isASCII) else { break }
            suffixes.insert(String(ext), at: 0)
            rest = rest[..<dot]
        }
        guard let last = suffixes.last else { return (.tar, .gzip) }
        let archive: Archive = suffixes.count >= 2 && suffixes[suffixes.count - 2] == "tar" ? .tar : .none
        if last == "zip" { return (.zip, nil) }
        if last == "tar" { return (.tar, nil) }
        if last == "bgzf" { return nil }
        if let algorithm = extensions[last] { return (archive, algorithm) }
        return (.tar, .gzip)
    }
}
