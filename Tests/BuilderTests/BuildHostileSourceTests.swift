import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// A source image that names a host file as its backing file must not pull that file into the output.
@Suite(.serialized, .enabled(if: CLI.requirements == nil, "\(CLI.requirements ?? "")"))
struct BuildHostileSourceTests {
    let work: TemporaryDirectory
    init() throws { work = try TemporaryDirectory("builder-hostile") }

    @Test func aSourceBackedByAHostFileIsRefusedAndNothingIsWritten() throws {
        let evil = work.file("evil.qcow2")
        try Command.check("qemu-img", ["create", "-q", "-f", "qcow2", "-u", "-b", "/etc/shadow", "-F", "raw", evil, "64M"])
        let template = try CLI.template(in: work.path, image: evil)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(result.status == .exited(1), "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("names the backing file /etc/shadow"))
        #expect(!HostPath.exists(work.file("output-test")))
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test func allowBackingFileBuildsATrustedChainAndSaysWhatItReads() throws {
        let base = try CLI.sampleImage(in: work.path)
        let top = work.file("top.qcow2")
        try Command.check("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top])
        let template = try CLI.template(in: work.path, image: top, builder: #""allow_backing_file": true"#,
                                        provisioners: #"[{"type": "shell", "inline": ["echo chained > /chained"]}]"#)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(result.status.isSuccess, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(result.stdout.contains("allow_backing_file: the source's disk also reads \(base)"))
        // The output is flattened: it names no backing file of its own.
        #expect(try ImageProbe.probe(path: work.file("output-test/packer-test.qcow2")).backingFile == nil)
    }

    /// A FIFO planted as the image's /etc/fstab stops the build with a sentence instead of hanging it.
    @Test(.timeLimit(.minutes(2))) func aFIFOAsFstabIsRefusedWithoutHanging() throws {
        let image = try CLI.sampleImage(in: work.path)
        let planted = try CLI.run(["shell", image, "--", "sh", "-c", "rm -f /etc/fstab && mkfifo /etc/fstab"], in: work.path)
        #expect(planted.status.isSuccess, "\(planted.stderr)")
        let result = try CLI.run(["build", try CLI.template(in: work.path, image: image)], in: work.path)
        #expect(result.status == .exited(1), "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("/etc/fstab is not a regular file"))
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
    }
}
