import Glibc
import NBDCore

/// An artifact as post-processors see it (Packer's packersdk.Artifact): its files, and how to destroy it.
public struct PostProcessorArtifact: Sendable {
    public let builderID: String
    public let id: String
    public let files: [String]
    let destroy: @Sendable () throws -> Void

    /// The build's image: destroying it removes the file, and its directory when nothing else is in it (as
    /// the Packer plugin's artifact does).
    static func image(_ artifact: Artifact) -> PostProcessorArtifact {
        PostProcessorArtifact(builderID: Artifact.builderID, id: artifact.path, files: [artifact.path]) {
            try syscall("unlink", path: artifact.path) { unlink(artifact.path) }
            if let slash = artifact.path.lastIndex(of: "/") { rmdir(String(artifact.path[..<slash])) }
        }
    }

    /// Files a post-processor wrote: destroying the artifact removes them.
    static func files(_ builderID: String, _ files: [String], id: String = "") -> PostProcessorArtifact {
        PostProcessorArtifact(builderID: builderID, id: id, files: files) {
            for file in files where HostPath.exists(file) { try syscall("unlink", path: file) { unlink(file) } }
        }
    }
}

/// Runs a build's post-processor sequences on its artifact with Packer's semantics (hashicorp/packer
/// packer/build.go): each sequence starts from the build's artifact and hands each artifact to the next
/// post-processor; within a sequence an input that is not kept is destroyed; the build's own artifact is
/// kept when the first post-processor of any sequence keeps it (and destroyed otherwise); a failing
/// post-processor ends its sequence, is reported, and the other sequences still run.
public enum PostProcessing {
    public struct Outcome: Sendable {
        /// The artifacts left, the build's first when it was kept (Packer's order).
        public var artifacts: [PostProcessorArtifact] = []
        public var keptBuildArtifact = false
        public var errors: [String] = []
    }

    /// What one post-processor returned: its artifact, and Packer's `keep` default and whether that default
    /// overrides a `keep_input_artifact: false`.
    struct Result {
        let artifact: PostProcessorArtifact
        let keep: Bool
        let forceKeep: Bool
    }

    public static func run(_ sequences: [[PostProcessorConfig]], on image: Artifact, definition: BuildPlan.BuildDefinition,
                           environment: PostProcessorEnvironment, log: BuildLog, cancellation: Cancellation) -> Outcome {
        var outcome = Outcome()
        let builderArtifact = PostProcessorArtifact.image(image)
        var keepOriginal = sequences.isEmpty
        sequenceLoop: for sequence in sequences {
            var prior = builderArtifact
            for (index, config) in sequence.enumerated() {
                if cancellation.isCancelled {
                    outcome.errors.append("post-processing cancelled")
                    break sequenceLoop
                }
                log.say(config.name == config.type ? "Running post-processor: \(config.type)"
                    : "Running post-processor: \(config.name) (type \(config.type))")
                let result: Result
                do {
                    result = try PostProcessorRunner.run(config, input: prior, definition: definition,
                                                         environment: environment, log: log, cancellation: cancellation)
                } catch {
                    outcome.errors.append("Post-processor failed (\(config.location), \(config.type)): \(error)")
                    continue sequenceLoop
                }
                var keep = result.keep
                if let userKeep = config.keepInputArtifact {
                    if result.keep && !userKeep && result.forceKeep {
                        log.debug("\(config.type) keeps its input whatever keep_input_artifact says, as in Packer")
                    } else {
                        keep = userKeep
                    }
                }
                if index == 0 {
                    if keep { keepOriginal = true }
                } else if keep {
                    outcome.artifacts.append(prior)
                } else {
                    log.debug("deleting the artifact before \(config.location)")
                    do { try prior.destroy() } catch { outcome.errors.append("Failed cleaning up prior artifact: \(error); pp is \(config.type)") }
                }
                prior = result.artifact
            }
            outcome.artifacts.append(prior)
        }
        if keepOriginal {
            outcome.artifacts.insert(builderArtifact, at: 0)
            outcome.keptBuildArtifact = true
        } else {
            log.message("deleting the build's image \(image.path): no post-processor kept it (keep_input_artifact)")
            do { try builderArtifact.destroy() } catch { outcome.errors.append("Error destroying builder artifact: \(error)") }
        }
        return outcome
    }
}

/// What post-processors read besides their options: the run's UUID (manifest's packer_run_uuid) and -force.
/// Relative outputs are relative to the directory `qemu-chroot build` runs in, as with Packer.
public struct PostProcessorEnvironment: Sendable {
    public var runUUID: String
    public var force: Bool

    public init(runUUID: String, force: Bool) {
        self.runUUID = runUUID
        self.force = force
    }
}
