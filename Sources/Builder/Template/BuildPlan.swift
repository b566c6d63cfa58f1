import NBDCore
/// What a run of the template will build: one `BuildDefinition` per selected builder, each with its
/// checked config and the provisioners that apply to it. Making the plan is `packer validate`.
public struct BuildPlan: Sendable {
    public struct Options: Sendable {
        public var overrides: [VariableValues.Override] = []
        public var only: [String] = []
        public var except: [String] = []
        public var environment: [String: String] = ProcessEnvironmentSnapshot.current
        public var startTime = WallClock.seconds

        public init() {}
    }

    public struct BuildDefinition: Sendable {
        public let name: String
        public let config: BuilderConfig
        public let provisioners: [ProvisionerConfig]
        /// The template's post-processor sequences that apply to this build (the plugin has none: Packer runs its own).
        public let postProcessors: [[PostProcessorConfig]]
        public let context: TemplateContext

        /// A build not read from a template (the Packer plugin reads the options itself).
        public init(name: String, config: BuilderConfig, provisioners: [ProvisionerConfig] = [],
                    postProcessors: [[PostProcessorConfig]] = [], context: TemplateContext) {
            self.name = name
            self.config = config
            self.provisioners = provisioners
            self.postProcessors = postProcessors
            self.context = context
        }
    }

    public let template: Template
    public let builds: [BuildDefinition]
    /// The values of the template's `sensitive-variables`, for masking in output.
    public let sensitiveValues: [String]

    /// Checks everything it can before any build starts; every problem is reported in one error.
    public static func make(_ template: Template, options: Options) throws -> BuildPlan {
        let problems = ProblemList()
        template.structuralProblems.forEach { problems.add($0.location, $0.message) }
        let variables = VariableValues.resolve(template, overrides: options.overrides, environment: options.environment, problems: problems)
        let names = template.builders.map(\.name)
        for (flag, selected) in [("-only", options.only), ("-except", options.except)] {
            for name in selected where !names.contains(name) {
                problems.add(flag, "no builder is named \"\(name)\"" + Suggestion.phrase(for: name, among: names))
            }
        }
        let directory = HostPath.absolute(template.path).split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        var builds: [BuildDefinition] = []
        for entry in template.builders {
            let context = TemplateContext(userVariables: variables, environment: options.environment, buildName: entry.name,
                                          buildType: entry.type, startTime: options.startTime, templateDirectory: directory)
            let config = BuilderConfig.read(entry.options, location: entry.location, buildName: entry.name, context: context, problems: problems)
            // Provisioner problems are reported once, for the first build, not once per builder.
            let sink = entry.index == template.builders.first?.index ? problems : ProblemList()
            let provisioners = template.provisioners.compactMap {
                ProvisionerConfig.read($0, builderNames: names, context: context, problems: sink)
            }
            // Packer drops a post-processor that only/except excludes from its sequence, and an empty sequence.
            let postProcessors = template.postProcessors.map { sequence in
                sequence.compactMap { PostProcessorConfig.read($0, builderNames: names, context: context, problems: sink) }
                    .filter { $0.applies(to: entry.name) }
            }.filter { !$0.isEmpty }
            let selected = (options.only.isEmpty || options.only.contains(entry.name)) && !options.except.contains(entry.name)
            if selected {
                builds.append(BuildDefinition(name: entry.name, config: config,
                                              provisioners: provisioners.filter { $0.applies(to: entry.name) },
                                              postProcessors: postProcessors, context: context))
            }
        }
        for name in template.sensitiveVariables where !template.variables.contains(where: { $0.name == name }) {
            problems.add("sensitive-variables", "\"\(name)\" is not a variable of this template" + Suggestion.phrase(for: name, among: template.variables.map(\.name)))
        }
        try problems.throwIfAny()
        return BuildPlan(template: template, builds: builds, sensitiveValues: template.sensitiveVariables.compactMap { variables[$0] })
    }
}
