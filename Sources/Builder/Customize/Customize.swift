import NBDCore

/// `qemu-chroot customize` and `sysprep` as one build: the image (in place) or a qcow2 overlay over it
/// (with an output) is attached, mounted with its fstab tree and provisioned by one `customize`
/// provisioner, through the same steps as `build`. With an output the input is never written and the
/// output is complete or absent.
public enum Customize {
    public struct Request: Sendable {
        public var image: String
        /// nil: change `image` in place.
        public var output: String?
        /// The output's format; nil: the input's.
        public var format: ImageFormat?
        public var compress = false
        /// Replace an existing output file.
        public var force = false
        public var attach = "auto"
        public var allowBackingFile = false
        public var operations: [CustomizeOperation]
        /// The name in the output lines (`customize`, `sysprep`).
        public var name = "customize"

        public init(image: String, output: String? = nil, operations: [CustomizeOperation]) {
            self.image = image
            self.output = output
            self.operations = operations
        }
    }

    /// Checks what can be checked before attaching: every problem is one line naming the flag.
    public static func check(_ request: Request) throws {
        guard HostPath.isReadableFile(request.image) else { throw CustomizeArgumentError("-a", "a readable qcow2 or raw image", got: request.image) }
        if request.compress && request.format == .raw { throw CustomizeArgumentError("--compress", "--format qcow2 (raw images cannot be compressed)") }
        if request.compress && request.output == nil { throw CustomizeArgumentError("--compress", "-o OUTPUT (an image changed in place is not rewritten)") }
        if request.format != nil && request.output == nil { throw CustomizeArgumentError("--format", "-o OUTPUT (an image changed in place keeps its format)") }
        guard BuilderConfig.attachModes.contains(request.attach) else {
            throw CustomizeArgumentError("--attach", BuilderConfig.attachModes.joined(separator: ", "), got: request.attach)
        }
        guard let output = request.output else { return }
        let absolute = HostPath.absolute(output)
        guard !output.hasSuffix("/"), PathName.base(absolute) != ".", PathName.base(absolute) != ".." else {
            throw CustomizeArgumentError("-o", "an image file path", got: output)
        }
        guard HostPath.isDirectory(PathName.parent(absolute)) else {
            throw CustomizeArgumentError("-o", "a path in an existing directory", got: output)
        }
        if HostPath.isDirectory(absolute) { throw CustomizeArgumentError("-o", "an image file path, not a directory", got: output) }
        if let input = HostPath.resolved(request.image), let existing = HostPath.resolved(absolute), input == existing {
            throw CustomizeArgumentError("-o", "a file other than the input image (leave -o out to change it in place)", got: output)
        }
        if HostPath.exists(absolute) && !request.force {
            throw CustomizeArgumentError("-o", "a file that does not exist yet (or --force to replace it)", got: output)
        }
    }

    /// What a run would do, one line each, for `--dry-run`.
    public static func plan(_ request: Request) -> [String] {
        var lines = [request.output == nil ? "attach \(request.image) read-write (changed in place)"
            : "attach a qcow2 overlay over \(request.image) (never written)"]
        lines.append("mount its root and the filesystems its /etc/fstab lists")
        for (index, operation) in request.operations.enumerated() {
            lines.append("[\(index + 1)/\(request.operations.count)] \(operation.description)")
        }
        lines.append("unmount and detach")
        if let output = request.output {
            let format = request.format.map(\.rawValue) ?? "the input's format"
            lines.append("write \(output) (\(format)\(request.compress ? ", compressed" : "")) under a temporary name, then rename it into place")
        }
        return lines
    }

    public static func run(_ request: Request, output: BuildOutput, cancellation: Cancellation) -> BuildResult {
        let format = request.format ?? (try? ImageProbe.probe(path: request.image).format) ?? .qcow2
        let target = request.output.map(HostPath.absolute)
        var config = BuilderConfig(buildName: request.name, sourceImage: request.image,
                                   outputDirectory: target.map(PathName.parent) ?? "",
                                   imageName: target.map(PathName.base) ?? "")
        config.format = OutputFormat(rawValue: format.rawValue) ?? .qcow2  // every ImageFormat is an OutputFormat
        config.compression = request.compress
        config.attach = request.attach
        config.allowBackingFile = request.allowBackingFile
        config.mountPath = "/run/qemu-chroot/mnt/{{.RunID}}/{{.Device}}"
        let provisioner = ProvisionerConfig(index: 0, type: "customize", kind: .customize(CustomizeConfig(operations: request.operations)))
        let definition = BuildPlan.BuildDefinition(name: request.name, config: config, provisioners: [provisioner],
                                                   context: TemplateContext(buildName: request.name, buildType: request.name,
                                                                            startTime: WallClock.seconds))
        let attach = StepAttach(), mount = StepMount(), copyFiles = StepCopyFiles()
        var steps: [Step] = [StepPrepareCustomize(inPlace: target == nil), attach, mount, copyFiles, StepProvision(),
                             StepReleaseImage([copyFiles, mount, attach])]
        steps += target == nil ? [StepArtifact(checksum: false)] : [StepWriteOutput(), StepArtifact()]
        return Build.run(definition, steps: steps, force: request.force, output: output, cancellation: cancellation)
    }
}
