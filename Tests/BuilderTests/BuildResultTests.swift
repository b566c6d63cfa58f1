@testable import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// What `build` tells a caller when it ends: the exit status (BuildExit), the `--json` document, and
/// progress on a terminal and in -machine-readable records.
@Suite(.serialized, .enabled(if: CLI.requirements == nil, "\(CLI.requirements ?? "")"))
struct BuildResultTests {
    let work: TemporaryDirectory
    let image: String

    init() throws {
        work = try TemporaryDirectory("builder-result")
        image = try CLI.sampleImage(in: work.path)
    }

    func document(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
        do { return try JSONParser.parse(result.stdout) } catch {
            Issue.record("stdout is not one JSON document: \(error)\nstdout:\n\(result.stdout)\nstderr:\n\(result.stderr)",
                         sourceLocation: sourceLocation)
            throw error
        }
    }

    @Test func jsonDescribesTheArtifactAndEachPhase() throws {
        let template = try CLI.template(in: work.path, image: image, provisioners: #"[{"type": "shell", "inline": ["echo hi > /x"]}]"#)
        let result = try CLI.run(["build", "--json", template], in: work.path)
        #expect(result.status == .exited(0), "stderr:\n\(result.stderr)")
        let json = try document(result)
        #expect(json["exit_code"] == .number(0))
        #expect(json["outcome"] == .string("success"))
        guard case .array(let builds) = json["builds"], let build = builds.first else {
            Issue.record("no builds in \(result.stdout)"); return
        }
        let path = work.file("output-test/packer-test.qcow2")
        #expect(build["name"] == .string("test"))
        #expect(build["error"] == .null)
        #expect(build["artifact"]?["path"] == .string(path))
        #expect(build["artifact"]?["format"] == .string("qcow2"))
        #expect(build["artifact"]?["size"] == .number(Double(try FileTree.fileSize(path))))
        #expect(build["artifact"]?["sha256"] == .string(try FileDigest.sha256(path)))
        guard case .array(let phases) = build["phases"] else { Issue.record("no phases"); return }
        let names = phases.compactMap { phase -> String? in if case .string(let name) = phase["name"] { name } else { nil } }
        #expect(names.contains("provision") && names.contains("write output") && names.contains("artifact"), "\(names)")
        #expect(phases.allSatisfy { if case .number(let ms) = $0["milliseconds"] { ms >= 0 } else { false } })
        // The human lines went to stderr, so stdout stays parseable.
        #expect(result.stderr.contains("write output done in"))
    }

    @Test func aFailedBuildExitsOneWithItsError() throws {
        let template = try CLI.template(in: work.path, image: image, provisioners: #"[{"type": "shell", "inline": ["exit 7"]}]"#)
        let result = try CLI.run(["build", "--json", template], in: work.path)
        #expect(result.status == .exited(1))
        let json = try document(result)
        #expect(json["exit_code"] == .number(1))
        #expect(json["outcome"] == .string("build failed"))
        guard case .array(let builds) = json["builds"], let build = builds.first else { Issue.record("no builds"); return }
        #expect(build["artifact"] == .null)
        guard case .string(let error) = build["error"] else { Issue.record("no error in \(result.stdout)"); return }
        #expect(error.contains("exit status 7"), "\(error)")
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test func anInvalidTemplateExitsTwo() throws {
        let template = work.file("bad.json")
        try writeFile(template, #"{"builders": [{"type": "qemu-chroot", "sorce_image": "x"}]}"#)
        let plain = try CLI.run(["build", template], in: work.path)
        #expect(plain.status == .exited(2))
        #expect(plain.stderr.contains("did you mean \"source_image\""))
        let result = try CLI.run(["build", "--json", template], in: work.path)
        #expect(result.status == .exited(2))
        let json = try document(result)
        #expect(json["exit_code"] == .number(2))
        #expect(json["outcome"] == .string("invalid template"))
        #expect(json["builds"] == .array([]))
    }

    @Test func aMissingHostProgramExitsThree() throws {
        let template = try CLI.template(in: work.path, image: image)
        // An empty PATH: qemu-img, the first program a build runs, is not found.
        let result = try Command.run(CLI.binary, ["build", "--json", template], environment: ["PATH": work.file("no-programs")],
                                     directory: work.path)
        #expect(result.status == .exited(3), "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        let json = try document(result)
        #expect(json["outcome"] == .string("host lacks a requirement"))
        #expect(result.stderr.contains("qemu-img not found in PATH"))
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test(.enabled(if: Host.has("script"), "needs script(1) (util-linux) for a pseudo-terminal"))
    func aTerminalSeesOneUpdatingProgressLine() throws {
        let template = try CLI.template(in: work.path, image: image, builder: #""compression": true"#)
        // script(1) runs the build on a pseudo-terminal and copies what it printed there to our pipe.
        let result = try Command.run("script", ["-qec", "\(CLI.binary) build \(template)", "/dev/null"], directory: work.path)
        #expect(result.status == .exited(0), "stdout:\n\(result.stdout)")
        // Each update rewrites the line in place: carriage return, erase line, the figures.
        #expect(result.stdout.contains("\r\u{1B}[K    test: writing compressed output 100%"), "\(result.stdout)")
        #expect(result.stdout.contains("\r\u{1B}[K    test: hashing 100%"), "\(result.stdout)")
        #expect(result.stdout.contains(" MiB/s"))
        // Without a terminal the same build prints no progress line at all.
        let piped = try CLI.run(["build", "-force", template], in: work.path)
        #expect(piped.status == .exited(0))
        #expect(!piped.stdout.contains("\u{1B}[K") && !piped.stdout.contains("hashing"))
    }

    @Test func machineReadableProgressRecords() throws {
        let template = try CLI.template(in: work.path, image: image)
        let result = try CLI.run(["build", "-machine-readable", template], in: work.path)
        #expect(result.status == .exited(0), "stderr:\n\(result.stderr)")
        let records = result.stdout.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let progress = records.filter { $0.count == 7 && $0[1] == "test" && $0[2] == "progress" }
        let size = try ImageProbe.probe(path: image).virtualSize
        #expect(progress.contains { $0[3] == "writing output" && $0[4] == "100.0" && $0[5] == "\(size)" && $0[6] == "\(size)" },
                "\(result.stdout)")
        #expect(progress.contains { $0[3] == "hashing" && $0[4] == "100.0" })
    }

    @Test func compressionIsZstdUnlessZlibIsAsked() throws {
        for (type, option) in [("zstd", ""), ("zlib", #", "compression_type": "zlib""#)] {
            let template = try CLI.template(in: work.path, name: "\(type).json", image: image,
                                            builder: #""output_directory": "\#(type)", "compression": true"# + option)
            let result = try CLI.run(["build", template], in: work.path)
            #expect(result.status == .exited(0), "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
            let info = try Command.check("qemu-img", ["info", "--output=json", work.file("\(type)/packer-test.qcow2")])
            #expect(try JSONParser.parse(info)["format-specific"]?["data"]?["compression-type"] == .string(type), "\(info)")
            // Readable back: qemu-img check walks every cluster, compressed ones included.
            try Command.check("qemu-img", ["check", "-q", work.file("\(type)/packer-test.qcow2")])
        }
    }

    @Test func qemuImgProgressIsParsedWhole() {
        var seen: [Double] = []
        let parser = QemuImgProgress { seen.append($0) }
        parser.feed(ArraySlice(Array("    (0.00/100%)\r    (12.5".utf8)))
        parser.feed(ArraySlice(Array("0/100%)\r    (100.00/100%)\r\nnoise\r".utf8)))
        #expect(seen == [0, 0.125, 1])
        #expect(ProgressMeter.clock(65) == "1:05")
        #expect(ProgressMeter.clock(3723) == "1:02:03")
        #expect(ProgressMeter.mebibytes(1_572_864) == "1.5")
    }
}
