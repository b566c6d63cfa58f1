@testable import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// The standalone post-processors (checksum, manifest, compress, shell-local) with Packer's keys and
/// semantics, run on an image file the test makes (no build, no root).
@Suite(.enabled(if: Host.missing(programs: ["tar", "gzip", "xz", "lz4", "bzip2", "zip", "unzip", "md5sum", "sha256sum"]) == nil,
                "\(Host.missing(programs: ["tar", "gzip", "xz", "lz4", "bzip2", "zip", "unzip", "md5sum", "sha256sum"]) ?? "")"),
       .timeLimit(.minutes(1)))
struct PostProcessorTests {
    let work: TemporaryDirectory
    let image: String
    let content = Array("not really a disk image\n".utf8) + [UInt8](repeating: 7, count: 4096)

    init() throws {
        work = try TemporaryDirectory("post-processors")
        mkdir(work.file("out"), 0o755)
        image = work.file("out/disk.raw")
        try writeBytes(image, content)
    }

    func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        try fd.writeAll(bytes)
        try fd.close()
    }

    /// The file's exact text (ProcFS.readText trims the last newline).
    func text(_ path: String) -> String {
        guard let fd = try? FileDescriptor.open(path, O_RDONLY) else { return "<missing \(path)>" }
        defer { try? fd.close() }
        return String(decoding: (try? fd.read(count: 1 << 20)) ?? [], as: UTF8.self)
    }

    func definition(_ postProcessors: String, name: String = "b") throws -> BuildPlan.BuildDefinition {
        var options = BuildPlan.Options()
        options.environment = ["HOME": "/root"]
        let json = #"{"builders": [{"type": "qemu-chroot", "name": "\#(name)", "source_image": "\#(image)", "output_directory": "\#(work.file("out"))"}, {"type": "qemu-chroot", "name": "other", "source_image": "\#(image)"}], "post-processors": \#(postProcessors)}"#
        return try BuildPlan.make(try Template.parse(json), options: options).builds[0]
    }

    func run(_ definition: BuildPlan.BuildDefinition, uuid: String = "run-1", force: Bool = false) -> PostProcessing.Outcome {
        let artifact = Artifact(buildName: definition.name, path: image, format: .qcow2, size: UInt64(content.count), sha256: "")
        return PostProcessing.run(definition.postProcessors, on: artifact, definition: definition,
                                  environment: PostProcessorEnvironment(runUUID: uuid, force: force),
                                  log: BuildLog(output: BuildOutput { _ in }, target: definition.name), cancellation: Cancellation())
    }

    @Test func checksumAndManifestWritePackersFilesAndKeepTheImage() throws {
        let sums = work.file("sums/{{.BuildName}}_{{.ChecksumType}}.checksum")
        let manifest = work.file("manifest.json")
        let outcome = run(try definition(#"""
            [{"type": "checksum", "checksum_types": ["sha256", "md5"], "output": "\#(sums)"},
             {"type": "manifest", "output": "\#(manifest)", "custom_data": {"where": "{{.BuildName}}-x"}}]
            """#))
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        #expect(outcome.keptBuildArtifact)
        #expect(HostPath.exists(image))
        let sha = try Command.run("sha256sum", [image]).stdout.prefix(64)
        let md5 = try Command.run("md5sum", [image]).stdout.prefix(32)
        #expect(text(work.file("sums/b_sha256.checksum")) == "\(sha)\tdisk.raw\n")
        #expect(text(work.file("sums/b_md5.checksum")) == "\(md5)\tdisk.raw\n")
        let document = try JSONParser.parse(text(manifest))
        guard case .array(let builds)? = document["builds"], let build = builds.first else { Issue.record("no builds: \(text(manifest))"); return }
        #expect(build["name"] == .string("b"))
        #expect(build["builder_type"] == .string("qemu-chroot"))
        #expect(build["artifact_id"] == .string(image))
        #expect(build["packer_run_uuid"] == .string("run-1"))
        #expect(build["files"] == .array([.object([("name", .string(image)), ("size", .number(Double(content.count)))])]))
        #expect(build["custom_data"]?["where"] == .string("b-x"))
        #expect(document["last_run_uuid"] == .string("run-1"))
        // The next run appends; with -force a run starts the manifest afresh.
        _ = run(try definition(#"[{"type": "manifest", "output": "\#(manifest)", "strip_path": true, "strip_time": true}]"#), uuid: "run-2")
        guard case .array(let two)? = try JSONParser.parse(text(manifest))["builds"] else { Issue.record("no builds"); return }
        #expect(two.count == 2)
        #expect(two[1]["files"]?.arrayValueForTest?.first?["name"] == .string("disk.raw"))
        #expect(two[1]["build_time"] == nil)
        _ = run(try definition(#"[{"type": "manifest", "output": "\#(manifest)"}]"#), uuid: "run-3", force: true)
        guard case .array(let fresh)? = try JSONParser.parse(text(manifest))["builds"] else { Issue.record("no builds"); return }
        #expect(fresh.count == 1)
        #expect(!HostPath.exists(manifest + ".lock"))
    }

    @Test(arguments: [("gz", "gzip"), ("lz4", "lz4"), ("bzip2", "bzip2")])
    func compressOfOneFileIsTheFileCompressedAndDropsTheImage(suffix: String, program: String) throws {
        let target = work.file("disk.raw.\(suffix)")
        let outcome = run(try definition(#"[{"type": "compress", "output": "\#(target)"}]"#))
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        #expect(!outcome.keptBuildArtifact)
        #expect(!HostPath.exists(image))
        #expect(outcome.artifacts.map(\.files) == [[target]])
        let unpacked = try Command.run("/bin/sh", ["-c", "\(program) -dc '\(target)' | sha256sum"]).stdout.prefix(64)
        try writeBytes(work.file("expected"), content)
        #expect(unpacked == (try Command.run("sha256sum", [work.file("expected")]).stdout.prefix(64)))
    }

    @Test func keepInputArtifactKeepsTheImage() throws {
        let outcome = run(try definition(#"[{"type": "compress", "output": "\#(work.file("a.xz"))", "keep_input_artifact": true}]"#))
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        #expect(outcome.keptBuildArtifact && HostPath.exists(image))
        #expect(try Command.run("xz", ["-t", work.file("a.xz")]).status.isSuccess)
    }

    @Test func aSequenceHandsEachArtifactOn() throws {
        let archive = work.file("{{.BuildName}}.tar.xz")
        let sums = work.file("archive.sha256")
        let outcome = run(try definition(#"""
            [[{"type": "compress", "output": "\#(archive)"}, {"type": "checksum", "checksum_types": ["sha256"], "output": "\#(sums)"}],
             {"type": "checksum", "checksum_types": ["sha256"], "output": "\#(work.file("image.sha256"))", "only": ["other"]}]
            """#))
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        // compress (first of its sequence) does not keep the image; the only other sequence is for "other".
        #expect(!HostPath.exists(image))
        #expect(!HostPath.exists(work.file("image.sha256")))
        let listing = try Command.run("tar", ["-tJf", work.file("b.tar.xz")])
        #expect(listing.stdout == "disk.raw\n")
        #expect(text(sums).hasSuffix("\tb.tar.xz\n"))
        #expect(outcome.artifacts.last?.files == [work.file("b.tar.xz"), sums])
    }

    @Test func zipAndShellLocal() throws {
        let zip = work.file("b.zip")
        let marker = work.file("marker")
        let outcome = run(try definition(#"""
            [[{"type": "shell-local", "inline": ["echo $PACKER_BUILD_NAME > \#(marker)"]},
              {"type": "compress", "output": "\#(zip)", "keep_input_artifact": true}]]
            """#))
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        #expect(text(marker) == "b\n")
        #expect(try Command.run("unzip", ["-Z1", zip]).stdout == "disk.raw\n")
        #expect(HostPath.exists(image))
    }

    @Test func aFailingPostProcessorIsTheBuildsError() throws {
        let outcome = run(try definition(#"[{"type": "shell-local", "inline": ["exit 3"]}, {"type": "manifest", "output": "\#(work.file("m.json"))"}]"#))
        #expect(outcome.errors.count == 1)
        #expect(outcome.errors.first?.contains("Post-processor failed (post-processors[0], shell-local)") == true)
        #expect(HostPath.exists(work.file("m.json")))
    }

    @Test func templateForms() {
        func problems(_ postProcessors: String) -> [String] {
            do { _ = try definition(postProcessors); return [] } catch let error as TemplateErrors {
                return error.problems.map(\.description)
            } catch { return ["unexpected: \(error)"] }
        }
        #expect(problems(#"["manifest", ["checksum", {"type": "compress"}]]"#).isEmpty)
        #expect(problems(#"[{"type": "vagrant"}]"#) == [
            "post-processors[0].type: post-processor type \"vagrant\" is not supported by the standalone runner; use packer build"])
        #expect(problems(#"[[{"type": "checksum", "checksum_types": ["crc32"]}]]"#).first?.contains("post-processors[0][0].checksum_types: unrecognized checksum type \"crc32\"") == true)
        #expect(problems(#"[{"type": "compress", "output": "x.bgzf"}]"#).first?.contains("bgzf compression is not supported") == true)
        #expect(problems(#"[{"type": "manifest", "outptu": "x"}]"#).first?.contains("did you mean \"output\"") == true)
        #expect(problems(#"[{"type": "manifest", "only": ["nope"]}]"#).first?.contains("no builder is named \"nope\"") == true)
    }

    @Test func compressFormatFromTheExtension() {
        #expect(CompressConfig.detect("packer_b_qemu-chroot")! == (.tar, .gzip))
        #expect(CompressConfig.detect("out/disk.raw.gz")! == (.none, .gzip))
        #expect(CompressConfig.detect("disk.tar.gz")! == (.tar, .gzip))
        #expect(CompressConfig.detect("disk.tar.xz")! == (.tar, .xz))
        #expect(CompressConfig.detect("disk.img.bzip2")! == (.none, .bzip2))
        #expect(CompressConfig.detect("disk.zip")! == (.zip, nil))
        #expect(CompressConfig.detect("disk.tar")! == (.tar, nil))
        #expect(CompressConfig.detect("disk.img")! == (.tar, .gzip))
        #expect(CompressConfig.detect("disk.bgzf") == nil)
    }
}

private extension JSONValue {
    var arrayValueForTest: [JSONValue]? { if case .array(let items) = self { items } else { nil } }
}
