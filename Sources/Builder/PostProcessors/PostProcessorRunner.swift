import Glibc
import NBDCore

/// The four post-processors, each as Packer's (hashicorp/packer post-processor/*): same files, same names,
/// same `keep` defaults (checksum, manifest and shell-local keep their input and insist on it; compress does not).
enum PostProcessorRunner {
    static func run(_ config: PostProcessorConfig, input: PostProcessorArtifact, definition: BuildPlan.BuildDefinition,
                    environment: PostProcessorEnvironment, log: BuildLog, cancellation: Cancellation) throws -> PostProcessing.Result {
        let fields = [
            "BuildName": definition.name, "BuilderType": BuilderConfig.type, "ChecksumType": "",
            "ImageName": definition.config.imageName, "OutputDir": HostPath.absolute(definition.config.outputDirectory),
        ]
        let template = definition.context.with(fields: fields)
        switch config.kind {
        case .checksum(let checksum):
            return PostProcessing.Result(artifact: try run(checksum, input, template), keep: true, forceKeep: true)
        case .manifest(let manifest):
            try run(manifest, input, definition, template, environment)
            return PostProcessing.Result(artifact: input, keep: true, forceKeep: true)
        case .compress(let compress):
            return PostProcessing.Result(artifact: try run(compress, input, template, log, cancellation), keep: false, forceKeep: false)
        case .shellLocal(let shell):
            try ShellLocalProvisioner(config: shell).run(template: template, log: log, cancellation: cancellation)
            return PostProcessing.Result(artifact: input, keep: true, forceKeep: true)
        }
    }

    /// Appends `HEX<TAB>file name` per input file to the file `output` names for each type; the artifact is
    /// the input's files plus the checksum files this run created.
    private static func run(_ config: ChecksumConfig, _ input: PostProcessorArtifact, _ template: TemplateContext) throws -> PostProcessorArtifact {
        var created: [String] = []
        for type in config.checksumTypes {
            let path = try Interpolation.render(config.output, template.with(fields: ["ChecksumType": type]))
            for file in input.files {
                if !HostPath.exists(path) { created.append(path) }
                try makeParent(of: path)
                let result = try Command.run("\(type)sum", ["--", file])
                guard result.status.isSuccess, let digest = result.stdout.split(separator: " ").first, digest.count >= 32 else {
                    throw BuildError("\(type)sum \(file) failed: \(result.stderr)")
                }
                let line = "\(digest.hasPrefix("\\") ? digest.dropFirst() : digest)\t\(baseName(file))\n"
                let fd = try FileDescriptor.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode: 0o644)
                defer { try? fd.close() }
                try fd.writeAll(Array(line.utf8))
            }
        }
        return .files("packer.post-processor.checksum", input.files + created)
    }

    /// Adds this build to the manifest (`{"builds": [...], "last_run_uuid": ...}`), under Packer's lock file;
    /// with -force a manifest from another run is started afresh.
    private static func run(_ config: ManifestConfig, _ input: PostProcessorArtifact, _ definition: BuildPlan.BuildDefinition,
                            _ template: TemplateContext, _ environment: PostProcessorEnvironment) throws {
        let path = try Interpolation.render(config.output, template)
        let files: [JSONValue] = input.files.map { file in
            let size = (try? FileTree.fileSize(file)).map { Double($0) } ?? 0
            return .object([("name", .string(config.stripPath ? baseName(file) : file)), ("size", .number(size))])
        }
        var build: [(key: String, value: JSONValue)] = [("name", .string(definition.name)), ("builder_type", .string(BuilderConfig.type))]
        if !config.stripTime { build.append(("build_time", .number(Double(WallClock.seconds)))) }
        let customData: JSONValue = try config.customData.map { pairs in
            .object(try pairs.map { ($0.key, .string(try Interpolation.render($0.value, template))) })
        } ?? .null
        build += [("files", .array(files)), ("artifact_id", .string(input.id)),
                  ("packer_run_uuid", .string(environment.runUUID)), ("custom_data", customData)]
        try makeParent(of: path)
        let lock = path + ".lock"
        var locked = false
        for attempt in 0..<3 where !locked {
            HostThread.sleep(Double(attempt) * 0.2)
            if let fd = try? FileDescriptor.open(lock, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC) { try? fd.close(); locked = true }
        }
        defer { if locked { unlink(lock) } }
        var builds: [JSONValue] = []
        if HostPath.exists(path) {
            let text = try TextFile.read(path, limit: 64 << 20, what: "manifest")
            if !text.isEmpty {
                let existing: JSONValue
                do { existing = try JSONParser.parse(text) } catch { throw BuildError("Unable to parse content from \(path): \(error)") }
                let sameRun = existing["last_run_uuid"] == .string(environment.runUUID)
                if case .array(let previous)? = existing["builds"], !(environment.force && !sameRun) { builds = previous }
            }
        }
        builds.append(.object(build))
        let document = JSONValue.object([("builds", .array(builds)), ("last_run_uuid", .string(environment.runUUID))])
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o664)
        defer { try? fd.close() }
        try fd.writeAll(Array(document.rendered(htmlSafe: true).utf8))
    }

    /// Writes the archive `output` names, in the format its extension chooses (CompressConfig.detect).
    private static func run(_ config: CompressConfig, _ input: PostProcessorArtifact, _ template: TemplateContext,
                            _ log: BuildLog, _ cancellation: Cancellation) throws -> PostProcessorArtifact {
        let target = try Interpolation.render(config.output, template)
        try makeParent(of: target)
        let compressor = config.algorithm.map { algorithm -> [String] in
            switch algorithm {
            case .gzip: ["gzip", "-\(config.level)"]
            case .xz: ["xz"]
            case .bzip2: ["bzip2", "-\(config.level)"]
            case .lz4: ["lz4", "-\(config.level)"]
            }
        }
        let members = input.files.flatMap { file in ["-C", directoryName(HostPath.absolute(file)), baseName(file)] }
        do {
            switch config.archive {
            case .tar:
                log.say("Tarring \(target) with \(compressor?.first ?? "no compression")")
                let program = compressor.map { ["--use-compress-program", $0.joined(separator: " ")] } ?? []
                try CancellableCommand.check("tar", ["-c", "-f", target] + program + members, cancellation: cancellation)
            case .zip:
                log.say("Zipping \(target)")
                unlink(target) // zip adds to an existing archive; Packer's output is created afresh
                try CancellableCommand.check("zip", ["-q", "-j", "-\(config.level)", target] + input.files, cancellation: cancellation)
            case .none:
                guard input.files.count == 1, let compressor else {
                    throw BuildError("Can only have 1 input file when not using tar/zip. Found \(input.files.count) files: \(input.files)")
                }
                log.say("Archiving \(input.files[0]) with \(compressor[0])")
                let output = try FileDescriptor.open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o644)
                defer { try? output.close() }
                try CancellableCommand.check(compressor[0], Array(compressor.dropFirst()) + ["-c", "--", input.files[0]],
                                             stdoutFile: output.rawValue, cancellation: cancellation)
            }
        } catch {
            unlink(target)
            throw error
        }
        log.say("Archive \(target) completed")
        return .files("packer.post-processor.compress", [target], id: target)
    }

    private static func makeParent(of path: String) throws {
        let parent = directoryName(HostPath.absolute(path))
        if !parent.isEmpty { _ = try FileTree.makeDirectories(parent) }
    }

    static func baseName(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? path }

    static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
