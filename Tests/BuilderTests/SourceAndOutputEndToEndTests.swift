@testable import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// Whole `qemu-chroot build` runs with a URL source (served by a loopback HTTP server this test starts),
/// a compressed source, the qemu-img output formats and post-processors.
@Suite(.serialized, .enabled(if: CLI.requirements == nil && Host.missing(programs: ["curl", "xz", "gzip"]) == nil,
                             "\(CLI.requirements ?? Host.missing(programs: ["curl", "xz", "gzip"]) ?? "")"),
       .timeLimit(.minutes(5)))
struct SourceAndOutputEndToEndTests {
    let work: TemporaryDirectory

    init() throws { work = try TemporaryDirectory("builder-url") }

    func bytes(_ path: String) throws -> [UInt8] {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        defer { try? fd.close() }
        return try fd.read(count: Int(try FileTree.fileSize(path)))
    }

    func expectSuccess(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status.isSuccess, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)", sourceLocation: sourceLocation)
    }

    func info(_ path: String) throws -> JSONValue {
        try JSONParser.parse(try Command.run("qemu-img", ["info", "--output=json", path]).stdout)
    }

    @Test func anXZSourceByURLWithAChecksumFileBuildsAVMDKWithPostProcessors() throws {
        let base = try CLI.sampleImage(in: work.path)
        try Command.check("qemu-img", ["convert", "-O", "raw", base, work.file("base.img")])
        try Command.check("xz", ["-T1", "-1", work.file("base.img")])
        let packed = try bytes(work.file("base.img.xz"))
        let digest = try FileDigest.sha256(work.file("base.img.xz"))
        let server = try LoopbackHTTPServer(files: ["/images/base.img.xz": packed,
                                                    "/images/SHA256SUMS": Array("\(digest)  base.img.xz\n".utf8)])
        defer { server.stop() }
        let template = work.file("t.json")
        try writeFile(template, #"""
        {"builders": [{"type": "qemu-chroot", "name": "test", "source_image": "\#(server.url)/images/base.img.xz",
                       "source_checksum": "file:\#(server.url)/images/SHA256SUMS", "cache_dir": "\#(work.file("cache"))",
                       "format": "vmdk", "qemu_img_args": {"convert": ["-o", "subformat=streamOptimized"]}}],
         "provisioners": [{"type": "shell", "inline": ["echo built > /hello"]}],
         "post-processors": [
           {"type": "checksum", "checksum_types": ["sha256"], "output": "{{.BuildName}}.{{.ChecksumType}}"},
           {"type": "manifest"},
           {"type": "compress", "output": "{{.BuildName}}.vmdk.gz", "keep_input_artifact": true}]}
        """#)
        let result = try CLI.run(["build", template], in: work.path)
        expectSuccess(result)
        let output = work.file("output-test/packer-test.vmdk")
        let described = try info(output)
        #expect(described["format"] == .string("vmdk"))
        #expect(described["format-specific"]?["data"]?["create-type"] == .string("streamOptimized"))
        #expect(try Command.run("qemu-img", ["check", output]).status.isSuccess)
        let sha = try FileDigest.sha256(output)
        #expect(ProcFS.readText(work.file("test.sha256"))?.hasPrefix("\(sha)\tpacker-test.vmdk") == true)
        let manifest = try JSONParser.parse(ProcFS.readText(work.file("packer-manifest.json")) ?? "")
        if case .array(let builds)? = manifest["builds"], let build = builds.first {
            #expect(build["files"] == .array([.object([("name", .string(output)), ("size", .number(Double(try FileTree.fileSize(output))))])]))
        } else {
            Issue.record("manifest: \(manifest)")
        }
        #expect(try Command.run("gzip", ["-t", work.file("test.vmdk.gz")]).status.isSuccess)
        // Again: the download comes from the cache (only the checksum file is fetched again).
        expectSuccess(try CLI.run(["build", "-force", template], in: work.path))
        #expect(server.requests.filter { $0 == "/images/base.img.xz" }.count == 1)
        #expect(server.requests.filter { $0 == "/images/SHA256SUMS" }.count == 2)
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test func aChecksumMismatchBuildsNothing() throws {
        let base = try CLI.sampleImage(in: work.path)
        let server = try LoopbackHTTPServer(files: ["/base.qcow2": try bytes(base)])
        defer { server.stop() }
        let template = try CLI.template(in: work.path, image: "\(server.url)/base.qcow2", builder: #"""
            "source_checksum": "sha256:\#(String(repeating: "0", count: 64))", "cache_dir": "\#(work.file("cache"))"
            """#)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(!result.status.isSuccess)
        #expect((result.stdout + result.stderr).contains("source_checksum mismatch for \(server.url)/base.qcow2"))
        #expect(!HostPath.exists(work.file("output-test")))
        #expect(((try? FileTree.entries(work.file("cache"))) ?? []).isEmpty)
    }

    @Test(arguments: ["vhdx", "vpc"])
    func otherOutputFormats(format: String) throws {
        let base = try CLI.sampleImage(in: work.path)
        let template = try CLI.template(in: work.path, image: base, builder: #""format": "\#(format)""#,
                                        provisioners: #"[{"type": "shell", "inline": ["echo built > /hello"]}]"#)
        expectSuccess(try CLI.run(["build", template], in: work.path))
        let output = work.file("output-test/packer-test.\(format == "vpc" ? "vhd" : format)")
        #expect(try info(output)["format"] == .string(format))
        if format == "vhdx" { #expect(try Command.run("qemu-img", ["check", output]).status.isSuccess) }
        #expect(try info(output)["virtual-size"] == (try info(base))["virtual-size"] || format == "vpc")
    }
}
