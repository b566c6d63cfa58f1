/// What `{{...}}` expressions can see while a template string is rendered.
public struct TemplateContext: Sendable {
    public var userVariables: [String: String]
    public var environment: [String: String]
    public var buildName: String
    public var buildType: String
    /// Unix seconds when the run started: `{{timestamp}}` and `{{isotime}}` are the same all run long.
    public var startTime: Int
    public var templateDirectory: String
    /// Values for `{{.Name}}` fields known now (Device, MountPath, Command, Path, Vars...).
    public var fields: [String: String] = [:]
    /// Fields this string may use that are only known later: left verbatim now, rendered when known.
    public var deferredFields: Set<String> = []
    /// Packer allows `{{env}}` only in variable defaults.
    public var allowsEnvironment = false

    public init(userVariables: [String: String] = [:], environment: [String: String] = [:],
                buildName: String = "", buildType: String = "", startTime: Int = 0, templateDirectory: String = ".") {
        self.userVariables = userVariables
        self.environment = environment
        self.buildName = buildName
        self.buildType = buildType
        self.startTime = startTime
        self.templateDirectory = templateDirectory
    }

    /// A copy that knows `fields` now (e.g. the device once attached) and defers nothing.
    public func with(fields newFields: [String: String]) -> TemplateContext {
        var copy = self
        copy.fields.merge(newFields) { $1 }
        copy.deferredFields = []
        return copy
    }

    public func deferring(_ names: Set<String>) -> TemplateContext {
        var copy = self
        copy.deferredFields = names
        return copy
    }
}
