import FoundationEssentials
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
        /// How many builds run at once (Packer's -parallel-builds); 0 means all of them.
        public var parallelBuilds = 0
        /// Provisioning done by the caller instead of the template's provisioners: the Packer plugin hands
        /// the communicator to Packer's provisioner hook here. The state tells it the device, mount path...
        public var provision: ((Communicator, BuildState) throws -> Void)?
        public init() {}
    }

    /// Runs the plan's builds, up to `parallelBuilds` at a time, each on its own thread (they share the
    /// process's private mount namespace); results come back in template order.
    public static func run(_ plan: BuildPlan, options: Options, output: BuildOutput, cancellation: Cancellation) -> [BuildResult] {
        let width = options.parallelBuilds > 0 ? options.parallelBuilds : max(1, plan.builds.count)
        guard width > 1, plan.builds.count > 1 else {
            return plan.builds.map { run($0, options: options, output: output, cancellation: cancellation) }
        }
        let lock = Mutex()
        var results = [BuildResult?](repeating: nil, count: plan.builds.count)
        var next = 0
        func worker() {
            while true {
                let index: Int? = lock.withLock {
                    guard next < plan.builds.count else { return nil }
                    defer { next += 1 }
                    return next
                }
                guard let index else { return }
                let result = run(plan.builds[index], options: options, output: output, cancellation: cancellation)
                lock.withLock { results[index] = result }
            }
        }
        var threads: [WorkerThread] = []
        for _ in 0..<min(width, plan.builds.count) {
            if let thread = try? WorkerThread(worker) { threads.append(thread) }
        }
        if threads.isEmpty { worker() }
        threads.forEach { $0.join() }
        return results.map { $0! }
    }

    public static func run(_ definition: BuildPlan.BuildDefinition, options: Options, output: BuildOutput,
                           cancellation: Cancellation) -> BuildResult {
        let ledger: RunLedger?
        do { ledger = try RunLedger() } catch {
            Log.warning("cannot record this run under \(RunLedger.defaultRoot) (\(error)); `qemu-chroot cleanup` will not know about it")
            ledger = nil
        }
        defer { ledger?.finish() }
        let runID = ledger?.runID ?? String(UUID().uuidString.lowercased().prefix(8))
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

    static func steps(for config: BuilderConfig, provision: ((Communicator, BuildState) throws -> Void)?) -> [Step] {
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
