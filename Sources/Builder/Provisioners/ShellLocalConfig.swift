import NBDCore
/// The `shell-local` provisioner's options: commands run on the host, not in the image.
public struct ShellLocalConfig: Sendable {
    public static let defaultExecuteCommand = ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"]

    public var source: ShellConfig.Source = .inline([])
    public var environmentVars: [(name: String, value: String)] = []
    public var executeCommand = defaultExecuteCommand
    public var inlineShebang = "/bin/sh -e"
    public var validExitCodes: [Int32] = [0]

    static func read(_ reader: OptionReader) -> ShellLocalConfig {
        var config = ShellLocalConfig()
        let command = reader.string("command")
        let inline = reader.strings("inline")
        let script = reader.string("script")
        let scripts = reader.strings("scripts")
        let given = [command != nil, inline != nil, script != nil, scripts != nil].filter { $0 }.count
        if given == 0 { reader.problem("inline", "one of command, inline, script or scripts is required") }
        if given > 1 { reader.problem("inline", "use only one of command, inline, script and scripts") }
        if let command { config.source = .inline([command]) }
        if let inline { config.source = .inline(inline) }
        if let script { config.source = .files([script]) }
        if let scripts { config.source = .files(scripts) }
        if case .files(let files) = config.source {
            for file in files where !HostPath.isReadableFile(file) { reader.problem("script", "cannot read script \"\(file)\"") }
        }
        config.environmentVars = EnvironmentVars.read(reader)
        if let command = reader.strings("execute_command", fields: ["Vars", "Script", "Command"]) {
            if command.isEmpty { reader.problem("execute_command", "must not be empty") } else { config.executeCommand = command }
        }
        if let shebang = reader.string("inline_shebang") { config.inlineShebang = shebang }
        if let codes = reader.ints("valid_exit_codes") { config.validExitCodes = codes.map { Int32(truncatingIfNeeded: $0) } }
        _ = reader.bool("use_linux_pathing")
        _ = reader.strings("only_on")
        return config
    }
}
