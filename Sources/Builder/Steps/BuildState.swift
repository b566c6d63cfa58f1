import NBDCore

/// What the steps of one build share, typed: each field is written by the step named in its comment.
public final class BuildState {
    public let definition: BuildPlan.BuildDefinition
    public var config: BuilderConfig { definition.config }
    /// Unique per build, so concurrent builds never share a mount path, work file or ledger record.
    public let runID: String
    public let force: Bool
    public let cancellation: Cancellation
    public let output: BuildLog
    /// What this run holds, recorded so `qemu-chroot cleanup` can release it after a kill -9.
    public let ledger: RunLedger?

    /// fetch source: the local file the overlay reads (in the cache for a URL or compressed source); empty
    /// when the source image is used where it is.
    public var sourcePath = ""
    /// prepare output: the output directory, and whether this build created it (then a failure removes it).
    public var outputDirectory = ""
    public var createdOutputDirectory = false
    /// prepare output: the run-private directory (inside the output directory) for the overlay and the
    /// partial output; `cleanup` removes it after a kill -9.
    public var workDirectory = ""
    /// prepare output: the qcow2 overlay over the read-only source, which the build writes.
    public var overlayPath = ""
    /// prepare output: the overlay's format (`customize` without -o attaches the image itself, maybe raw).
    public var overlayFormat: ImageFormat = .qcow2
    /// The overlay is the run's own file (not the user's image changed in place): see AttachRequest.scratch.
    public var overlayIsScratch = false
    /// prepare output: what the source image is.
    public var sourceInfo: ImageInfo?
    /// attach: the attached overlay, its layout and the root volume planned; mount: mounted. Released by the
    /// attach step's cleanup (the mount step's unmounts only).
    public var image: MountedImage?
    /// attach: the block device of the whole disk ({{.Device}}), its partitions being {{.Device}}pN.
    public var device: String { image?.wholeDiskDevice ?? "" }
    /// attach: the block device of the root volume ({{.RootDevice}}).
    public var rootDevice: String { image?.root?.device ?? "" }
    /// mount: the rendered mount path ({{.MountPath}}).
    public var mountPath: String { image?.mountPath ?? "" }
    /// mount: the mounted image, where provisioners run.
    public var session: ChrootSession? { image?.session }
    /// attach: the attached disk's size, the overlay's virtual size (disk_size included); write output's
    /// progress total, kept here because the image is released before the output is written.
    public var attachedSize: UInt64 = 0
    /// write output: set once the output file is in place.
    public var outputPath: String?
    public var succeeded = false
    /// artifact.
    public var artifact: Artifact?
    public private(set) var timings: [(step: String, seconds: Double)] = []

    public init(definition: BuildPlan.BuildDefinition, runID: String, force: Bool, cancellation: Cancellation,
                output: BuildOutput, ledger: RunLedger? = nil) {
        self.ledger = ledger
        self.definition = definition
        self.runID = runID
        self.force = force
        self.cancellation = cancellation
        self.output = BuildLog(output: output, target: definition.name)
    }

    func record(_ step: String, seconds: Double) {
        timings.append((step, seconds))
        output.say("\(step) done in \(Duration.format(seconds))")
    }
}

/// A build failure with a sentence for the user.
public struct BuildError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
