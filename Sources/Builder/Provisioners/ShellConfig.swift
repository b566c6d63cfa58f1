import NBDCore
/// The `shell` provisioner's options, as Packer's shell provisioner names them.
public struct ShellConfig: Sendable {
    public static let defaultExecuteCommand = "chmod +x {{.Path}}; {{.Vars}} {{.Path}}"

    /// The scripts to run, in order: `inline` becomes one script with `inline_shebang`.
    public enum Source: Equatable, Sendable {
        case inline([String])
        case files([String])
    }

    public var source: Source = .inline([])
    public var environmentVars: [(name: String, value: String)] = []
    public var executeCommand = defaultExecuteCommand
    public var inlineShebang = "/bin/sh -e"
    public var remoteFolder = "/tmp"
    /// nil: `remote_folder/script_<n>.sh`, a fresh name per script.
    public var remotePath: String?
    public var validExitCodes: [Int32] = [0]
    public var envVarFormat = "%s='%s' "
    public var skipClean = false

    static func read(_ reader: OptionReader) -> ShellConfig {
        var config = ShellConfig()
        let inline = reader.strings("inline")
        let script = reader.string("script")
        let scripts = reader.strings("scripts")
        switch (inline, script, scripts) {
        case (let lines?, nil, nil): config.source = .inline(lines)
        case (nil, let file?, nil): config.source = .files([file])
        case (nil, nil, let files?): config.source = .files(files)
        case (nil, nil, nil): reader.problem("inline", "one of inline, script or scripts is required")
        default: reader.problem("inline", "use only one of inline, script and scripts")
        }
        if case .files(let files) = config.source {
            for (index, file) in files.enumerated() where !HostPath.isReadableFile(file) {
                reader.problem(script != nil ? "script" : "scripts[\(index)]", "cannot read script \"\(file)\"")
            }
        }
        config.environmentVars = EnvironmentVars.read(reader)
        if let command = reader.string("execute_command", fields: ["Path", "Vars"]) { config.executeCommand = command }
        if let shebang = reader.string("inline_shebang") { config.inlineShebang = shebang }
        if let folder = reader.string("remote_folder") {
            if !folder.hasPrefix("/") { reader.problem("remote_folder", "must be an absolute path in the image, got \"\(folder)\"") }
            config.remoteFolder = folder
        }
        if let path = reader.string("remote_path") {
            if !path.hasPrefix("/") { reader.problem("remote_path", "must be an absolute path in the image, got \"\(path)\"") }
            config.remotePath = path
        }
        if let file = reader.string("remote_file") { config.remotePath = "\(config.remoteFolder)/\(file)" }
        if let codes = reader.ints("valid_exit_codes") { config.validExitCodes = codes.map { Int32(truncatingIfNeeded: $0) } }
        if let format = reader.string("env_var_format") { config.envVarFormat = format }
        config.skipClean = reader.bool("skip_clean") ?? false
        // Accepted for compatibility with templates written for SSH communicators; nothing to do in a chroot.
        _ = reader.bool("expect_disconnect")
        _ = reader.string("start_retry_timeout")
        _ = reader.bool("binary")
        return config
    }
}

/// `environment_vars`: "NAME=value" strings; the name must be a shell identifier.
enum EnvironmentVars {
    static func read(_ reader: OptionReader) -> [(name: String, value: String)] {
        (reader.strings("environment_vars") ?? []).enumerated().compactMap { index, pair in
            guard let eq = pair.firstIndex(of: "="), isIdentifier(pair[..<eq]) else {
                reader.problem("environment_vars[\(index)]", "expected NAME=value with NAME a shell identifier, got \"\(pair)\"")
                return nil
            }
            return (String(pair[..<eq]), String(pair[pair.index(after: eq)...]))
        }
    }

    static func isIdentifier(_ name: Substring) -> Bool {
        guard let first = name.first, first == "_" || first.isASCII && first.isLetter else { return false }
        return name.allSatisfy { $0 == "_" || $0.isASCII && ($0.isLetter || $0.isNumber) }
    }
}
