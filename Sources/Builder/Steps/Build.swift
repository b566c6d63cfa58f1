import FoundationEssentials
import NBDCore
import Synchronization

/// How one build ended.
public struct BuildResult: Sendable {
    public let name: String
    public let artifact: Artifact?
    public let error: Error?
    public let timings: [(step: String, seconds: Double)]
}

/// Runs the builds of a plan, one after the other, each with its own run id, ledger record, overlay and
/// mount path, so builds in other processes never collide with them.
public enum Build {
    public struct Options: Sendable {
        public var force = false
        /// How many builds run at once (Packer's -parallel-builds); 0 means all of them.
        public var parallelBuilds = 0
        /// Provisioning done by the caller instead of the template's provisioners: the Packer plugin hands
        /// the communicator to Packer's provisioner hook here. The state tells it the device, mount path...
        public var provision: (@Sendable (Communicator, BuildState) throws -> Void)?
        /// This run's PACKER_RUN_UUID (the manifest post-processor records it).
        public var runUUID = UUID().uuidString.lowercased()
        public init() {}
    }

    /// Runs the plan's builds, up to `parallelBuilds` at a time, each on its own thread (they share the
    /// process's private mount namespace); results come back in template order.
    public static func run(_ plan: BuildPlan, options: Options, output: BuildOutput, cancellation: Cancellation) -> [BuildResult] {
        let width = options.parallelBuilds > 0 ? options.parallelBuilds : max(1, plan.builds.count)
        guard width > 1, plan.builds.count > 1 else {
            return plan.builds.map { run($0, options: options, output: output, cancellation: cancellation) }
        }
        let builds = plan.builds
        let queue = ParallelBuilds(count: builds.count)
        let worker: @Sendable () -> Void = {
            while let index = queue.take() {
                queue.finish(index, run(builds[index], options: options, output: output, cancellation: cancellation))
            }
        }
        var threads: [HostThread] = []
        for index in 0..<min(width, plan.builds.count) {
            if let thread = try? HostThread(name: "build \(index)", worker) { threads.append(thread) }
        }
        if threads.isEmpty { worker() }
        threads.forEach { $0.join() }
        return queue.results
    }

    public static func run(_ definition: BuildPlan.BuildDefinition, options: Options, output: BuildOutput,
                           cancellation: Cancellation) -> BuildResult {
        run(definition, steps: steps(for: definition.config, provision: options.provision), force: options.force,
            postProcessing: PostProcessorEnvironment(runUUID: options.runUUID, force: options.force),
            output: output, cancellation: cancellation)
    }

    /// Runs `steps` as one build of `definition`, with its own run id and ledger record (`customize` and
    /// `sysprep` bring their own first and last steps around the same attach, mount and provision steps).
    /// `postProcessing`: the template's post-processors run on the artifact (nil: none run).
    static func run(_ definition: BuildPlan.BuildDefinition, steps: [Step], force: Bool,
                    postProcessing: PostProcessorEnvironment? = nil, output: BuildOutput,
                    cancellation: Cancellation) -> BuildResult {
        let ledger: RunLedger?
        do { ledger = try RunLedger() } catch {
            Log.warning("cannot record this run under \(RunLedger.defaultRoot) (\(error)); `qemu-chroot cleanup` will not know about it")
            ledger = nil
        }
        defer { ledger?.finish() }
        let runID = ledger?.runID ?? String(UUID().uuidString.lowercased().prefix(8))
        let state = BuildState(definition: definition, runID: runID, force: force, cancellation: cancellation,
                               output: output, ledger: ledger)
        state.output.debug("run id \(runID)")
        do {
            try StepRunner.run(steps, state: state)
            guard let image = state.artifact, let postProcessing, !definition.postProcessors.isEmpty else {
                return BuildResult(name: definition.name, artifact: state.artifact, error: nil, timings: state.timings)
            }
            let outcome = PostProcessing.run(definition.postProcessors, on: image, definition: definition,
                                             environment: postProcessing,
                                             log: state.output, cancellation: cancellation)
            for artifact in outcome.artifacts where artifact.builderID != Artifact.builderID {
                state.output.message("post-processor artifact: \(artifact.files.joined(separator: ", "))")
            }
            let error = outcome.errors.isEmpty ? nil : BuildError(outcome.errors.joined(separator: "; "))
            if let error { state.output.error("\(error)") }
            return BuildResult(name: definition.name, artifact: outcome.keptBuildArtifact ? image : nil, error: error, timings: state.timings)
        } catch {
            state.output.error("build failed: \(error)")
            return BuildResult(name: definition.name, artifact: nil, error: error, timings: state.timings)
        }
    }

    static func steps(for config: BuilderConfig, provision: ((Communicator, BuildState) throws -> Void)?) -> [Step] {
        let attach = StepAttach(), mount = StepMount(), copyFiles = StepCopyFiles()
        // Steps with nothing to do are left out, so every line printed is work done.
        var steps: [Step] = config.source == nil ? [] : [StepFetchSource()]
        steps += [StepPrepareOutput(), attach]
        if !config.preMountCommands.isEmpty { steps.append(StepHostCommands(.preMount)) }
        steps.append(mount)
        if config.diskSize != nil { steps.append(StepGrowFilesystem()) }
        if !config.postMountCommands.isEmpty { steps.append(StepHostCommands(.postMount)) }
        if !config.copyFiles.isEmpty { steps.append(copyFiles) }
        steps += [StepProvision(provision), StepReleaseImage([copyFiles, mount, attach]), StepWriteOutput(), StepArtifact()]
        return steps
    }
}

/// The builds of one plan handed out to worker threads in template order, and their results.
private final class ParallelBuilds: Sendable {
    private let next = Mutex(0)
    private let finished: Mutex<[BuildResult?]>
    private let count: Int

    init(count: Int) {
        self.count = count
        finished = Mutex(Array(repeating: nil, count: count))
    }

    /// The index of the next build to run; nil when every build was handed out.
    func take() -> Int? {
        next.withLock { next in
            guard next < count else { return nil }
            defer { next += 1 }
            return next
        }
    }

    func finish(_ index: Int, _ result: BuildResult) { finished.withLock { $0[index] = result } }

    var results: [BuildResult] { finished.withLock { $0.map { $0! } } }
}
