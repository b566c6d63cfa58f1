import NBDCore

/// How one build ended.
public struct BuildResult {
    public let name: String
    public let artifact: Artifact?
    public let error: Error?
    public let timings: [(step: String, seconds: Double)]
}

/// Runs the builds of a plan, one after the other, each with its own run id, ledger record, overlay and
/// mount path, so builds in other processes never collide with them.
public enum Build {
    public struct Options {
        public var force = false
        /// Replaces the template's provisioners: the Packer plugin hands provisioning to Packer (Hook.Run)
        /// with the build's communicator and state (for Device, MountPath...).
        public var provision: ((Communicator, BuildState) throws -> Void)?
        public init() {}
    }

    public static func run(_ plan: BuildPlan, options: Options, output: BuildOutput, cancellation: Cancellation) -> [BuildResult] {
        plan.builds.map { run($0, options: options, output: output, cancellation: cancellation) }
    }

    public static func run(_ definition: BuildPlan.BuildDefinition, options: Options, output: BuildOutput,
                           cancellation: Cancellation) -> BuildResult {
        let ledger: RunLedger?
        do { ledger = try RunLedger() } catch {
            Log.warning("cannot record this run under \(RunLedger.defaultRoot) (\(error)); `qemu-chroot cleanup` will not know about it")
            ledger = nil
        }
        defer { ledger?.finish() }
        let runID = ledger?.runID ?? String(UUID.random().prefix(8))
        let state = BuildState(definition: definition, runID: runID, force: options.force, cancellation: cancellation,
                               output: output, ledger: ledger)
        state.output.debug("run id \(runID)")
        do {
            try StepRunner.run(steps(for: definition.config, provision: options.provision), state: state)
            return BuildResult(name: definition.name, artifact: state.artifact, error: nil, timings: state.timings)
        } catch {
            state.output.error("build failed: \(error)")
            return BuildResult(name: definition.name, artifact: nil, error: error, timings: state.timings)
        }
    }

    static func steps(for config: BuilderConfig, provision: ((Communicator, BuildState) throws -> Void)? = nil) -> [Step] {
        let attach = StepAttach(), mount = StepMount(), copyFiles = StepCopyFiles()
        // Steps with nothing to do are left out, so every line printed is work done.
        var steps: [Step] = [StepPrepareOutput(), attach]
        if !config.preMountCommands.isEmpty { steps.append(StepHostCommands(.preMount)) }
        steps.append(mount)
        if config.diskSize != nil { steps.append(StepGrowFilesystem()) }
        if !config.postMountCommands.isEmpty { steps.append(StepHostCommands(.postMount)) }
        if !config.copyFiles.isEmpty { steps.append(copyFiles) }
        steps += [StepProvision(provision), StepReleaseImage([copyFiles, mount, attach]), StepWriteOutput(), StepArtifact()]
        return steps
    }
}
