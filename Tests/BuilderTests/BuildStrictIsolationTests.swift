import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// `"isolation": "strict"`, `"network": false` and `shell --strict --no-network` through the CLI; what each
/// of them keeps from the provisioner is checked in detail by ChrootStrictIsolationTests.
@Suite(.serialized, .enabled(if: CLI.requirements == nil, "\(CLI.requirements ?? "")"))
struct BuildStrictIsolationTests {
    let work: TemporaryDirectory
    let image: String

    init() throws {
        work = try TemporaryDirectory("builder-strict")
        image = try CLI.sampleImage(in: work.path)
    }

    /// As a shell command line; `inTemplate` is the same as a JSON string's contents.
    static let probe = #"echo dev: $(ls /dev | tr '\n' ' '); echo if: $(grep -c ':' /proc/net/dev); echo cap: $(grep CapBnd /proc/self/status)"#
    static var inTemplate: String { probe.split(separator: "\\", omittingEmptySubsequences: false).joined(separator: "\\\\") }

    @Test func aStrictBuildWithoutNetworkProvisionsAndKeepsTheResult() throws {
        let template = try CLI.template(in: work.path, image: image, builder: #""isolation": "strict", "network": false"#,
                                        provisioners: #"[{"type": "shell", "inline": ["\#(Self.inTemplate)", "echo strict > /built"]}]"#)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(result.status.isSuccess, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(result.stdout.contains("dev: fd full null ptmx pts random shm stderr stdin stdout tty urandom zero"), "\(result.stdout)")
        #expect(result.stdout.contains("if: 1\n"), "\(result.stdout)")
        #expect(result.stdout.contains("cap: CapBnd: 00000000a00425fb"), "\(result.stdout)")
        #expect(CLI.leftovers(under: work.path).isEmpty)
        let output = work.file("output-test/packer-test.qcow2")
        let shell = try CLI.run(["shell", "--read-only", "--strict", "--no-network", output, "--", "/bin/sh", "-c", "cat /built; \(Self.probe)"],
                                in: work.path)
        #expect(shell.status.isSuccess, "stdout:\n\(shell.stdout)\nstderr:\n\(shell.stderr)")
        #expect(shell.stdout.hasPrefix("strict\ndev: fd full null ptmx pts random shm stderr stdin stdout tty urandom zero\nif: 1\n"), "\(shell.stdout)")
        // Without the flags the same image sees the host's /dev and capabilities.
        // ... but, in either mode, a /proc of the command's own PID namespace, not the host's processes.
        let standard = try CLI.run(["shell", "--read-only", output, "--", "/bin/sh", "-c",
                                    "test -e /dev/loop-control && echo host-dev; test -e /proc/\(getpid()) && echo host-process"], in: work.path)
        #expect(standard.stdout == "host-dev\n", "\(standard.stdout)\(standard.stderr)")
    }

    @Test func strictRefusesCustomChrootMounts() throws {
        let template = try CLI.template(in: work.path, image: image,
                                        builder: #""isolation": "strict", "chroot_mounts": [["bind", "/dev", "/dev"]]"#)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(result.status == .exited(2))
        #expect(result.stderr.contains("cannot be combined with \"isolation\": \"strict\""), "\(result.stderr)")
        #expect(access(work.file("output-test"), F_OK) != 0)
    }
}
