@testable import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// Images of other architectures (Debian's busybox-static for arm64, armhf, riscv64), built and entered
/// through the CLI on this x86-64 host whose binfmt_misc has no qemu handler: each command's programs run
/// through qemu-<arch>-static registered in a binfmt_misc of the command's own, and the host's binfmt_misc
/// is the same before and after.
@Suite(.serialized, .enabled(if: CrossArchitecture.requirements == nil, "\(CrossArchitecture.requirements ?? "")"))
struct CrossArchitectureBuildTests {
    let work: TemporaryDirectory

    init() throws {
        work = try TemporaryDirectory("builder-cross")
    }

    func sampleImage(_ architecture: String) throws -> String {
        let busybox = try ForeignBusybox.program(for: architecture)
        return try CLI.sampleImage(in: work.path, name: "\(architecture).qcow2", extra: ["--format", "qcow2", "--busybox", busybox])
    }

    func expectSuccess(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status.isSuccess, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test(.timeLimit(.minutes(10)))
    func arm64BuildRunsShellAndFileProvisionersThroughTheEmulator() throws {
        let before = try HostBinfmt.snapshot()
        let image = try sampleImage("arm64")
        try writeFile(work.file("payload.txt"), "from the host\n")
        let provisioners = #"""
            [{"type": "shell", "inline": ["uname -m > /arch", "echo arch=$(uname -m)"]},
             {"type": "file", "source": "\#(work.file("payload.txt"))", "destination": "/payload.txt"},
             {"type": "shell", "inline": ["echo payload=$(cat /payload.txt)", "touch /owned && chown 1000:1000 /owned"]}]
            """#
        let template = try CLI.template(in: work.path, image: image, provisioners: provisioners)
        let result = try CLI.run(["build", "--debug", template], in: work.path)
        expectSuccess(result)
        #expect(result.stdout.contains("arch=aarch64"))
        #expect(result.stdout.contains("payload=from the host"))
        #expect((result.stdout + result.stderr).contains("qemu-aarch64-static"), "--debug names the emulator")
        let output = work.file("output-test/packer-test.qcow2")
        // The output holds what the provisioners wrote, and no emulator.
        let look = try CLI.run(["shell", output, "--", "sh", "-c",
                                "cat /arch; stat -c %u:%g /owned; find / -xdev -name 'qemu*' | sed 's/^/found /'"], in: work.path)
        expectSuccess(look)
        #expect(look.stdout == "aarch64\n1000:1000\n", "output image: \(look.stdout)")
        #expect(try HostBinfmt.snapshot() == before)
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test(.timeLimit(.minutes(10)), arguments: [("armhf", "armv7l"), ("riscv64", "riscv64")])
    func shellRunsTheImagesOwnArchitecture(_ architecture: String, _ machine: String) throws {
        let before = try HostBinfmt.snapshot()
        let image = try sampleImage(architecture)
        let result = try CLI.run(["shell", image, "--", "uname", "-m"], in: work.path)
        expectSuccess(result)
        #expect(result.stdout == "\(machine)\n")
        #expect(try HostBinfmt.snapshot() == before)
    }

    /// Strict isolation and the emulator's user namespace together: the build and the shell run arm64
    /// code behind pivot_root, the minimal /dev, read-only /proc/sys, the dropped capabilities and no
    /// network, and the private binfmt_misc instance is neither visible to the command (its own /proc
    /// covers it) nor left behind.
    @Test(.timeLimit(.minutes(10)))
    func arm64UnderStrictIsolationWithoutNetwork() throws {
        let before = try HostBinfmt.snapshot()
        let image = try sampleImage("arm64")
        let template = try CLI.template(in: work.path, image: image, builder: #""isolation": "strict", "network": false"#,
                                        provisioners: #"""
            [{"type": "shell", "inline": ["echo arch=$(uname -m)", "touch /owned && chown 1000:1000 /owned", "echo strict > /built"]}]
            """#)
        let build = try CLI.run(["build", template], in: work.path)
        expectSuccess(build)
        #expect(build.stdout.contains("arch=aarch64"), "\(build.stdout)")
        let probe = """
            uname -m; cat /built; stat -c %u:%g /owned; echo dev: $(ls /dev | tr '\\n' ' '); echo if: $(grep -c : /proc/net/dev)
            echo cap: $(grep CapBnd /proc/self/status); echo binfmt: $(ls -A /proc/sys/fs/binfmt_misc | wc -l)
            mknod /null2 c 1 3 2>/dev/null && echo MKNOD-WORKED; mount -t tmpfs none /dev/shm 2>/dev/null && echo MOUNT-WORKED
            test -e /proc/\(getpid()) && echo HOST-PROCESS-VISIBLE
            echo end
            """
        let output = work.file("output-test/packer-test.qcow2")
        let shell = try CLI.run(["shell", "--strict", "--no-network", output, "--", "/bin/sh", "-c", probe], in: work.path)
        expectSuccess(shell)
        #expect(shell.stdout.hasPrefix("aarch64\nstrict\n1000:1000\n"
                                       + "dev: fd full null ptmx pts random shm stderr stdin stdout tty urandom zero\nif: 1\n"
                                       + "cap: CapBnd: 00000000a00425fb\nbinfmt: 0\nend\n"), "\(shell.stdout)\(shell.stderr)")
        #expect(try HostBinfmt.snapshot() == before)
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    /// kill -9 of an arm64 build mid-provisioning, then `cleanup`: the emulated command ends with it, and
    /// the host's binfmt_misc is as it was (nothing was ever registered there).
    @Test(.timeLimit(.minutes(10)))
    func killedArm64BuildLeavesTheHostsBinfmtAsItWas() throws {
        let before = try HostBinfmt.snapshot()
        let image = try sampleImage("arm64")
        // The emulated sleep shows on the host as qemu-aarch64-static running /bin/sleep 3031.
        try CLI.killBuild(in: work.path, image: image, name: "kill.json", builder: #""output_directory": "killed""#,
                          command: "sleep 3031", once: "3031", seconds: 120)
        _ = Poll.until(seconds: 10) { hostProcesses(withArgument: "3031").isEmpty }
        #expect(hostProcesses(withArgument: "3031").isEmpty, "the emulated sleep outlived the killed build")
        expectSuccess(try CLI.run(["cleanup"], in: work.path))
        #expect(try HostBinfmt.snapshot() == before)
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test(.timeLimit(.minutes(10)))
    func aForeignImageWithoutItsEmulatorStopsWithTheFix() throws {
        let image = try sampleImage("arm64")
        let result = try CLI.run(["shell", image, "--qemu-binary", "/nonexistent/qemu-aarch64-static", "--", "true"], in: work.path)
        #expect(!result.status.isSuccess)
        #expect(result.stderr.contains("/nonexistent/qemu-aarch64-static is not an executable file"), "\(result.stderr)")
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test(.timeLimit(.minutes(10)))
    func inspectAndDoctorNameTheArchitecture() throws {
        let image = try sampleImage("arm64")
        let inspect = try CLI.run(["inspect", "--json", image], in: work.path)
        expectSuccess(inspect)
        #expect(inspect.stdout.contains(#""architecture": "arm64""#), "\(inspect.stdout)")
        let doctor = try CLI.run(["doctor"], in: work.path)
        #expect(doctor.stdout.contains("ok    private binfmt_misc"), "\(doctor.stdout)")
        #expect(doctor.stdout.contains("emulate arm64: /usr/bin/qemu-aarch64-static"), "\(doctor.stdout)")
    }

    /// A root typed plain "Linux filesystem" names no architecture: attached, inspect reads it from /bin/sh's
    /// ELF header as build does; blocks only, it cannot tell.
    @Test(.timeLimit(.minutes(10)))
    func inspectReadsTheArchitectureFromTheELFHeaderWhenThePartitionTypeNamesNone() throws {
        let busybox = try ForeignBusybox.program(for: "arm64")
        let image = try CLI.sampleImage(in: work.path, name: "arm64.raw", extra: ["--format", "raw", "--busybox", busybox])
        try Command.check("sgdisk", ["--typecode=1:8300", image])
        let attached = try CLI.run(["inspect", "--json", image], in: work.path)
        expectSuccess(attached)
        #expect(attached.stdout.contains(#""architecture": "arm64""#), "\(attached.stdout)")
        #expect(attached.stdout.contains("the ELF header of /bin/sh -> /bin/busybox"), "\(attached.stdout)")
        let blocks = try CLI.run(["inspect", "--json", "--blocks-only", image], in: work.path)
        expectSuccess(blocks)
        #expect(blocks.stdout.contains(#""architecture": null"#), "\(blocks.stdout)")
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }
}

enum CrossArchitecture {
    static var requirements: String? {
        if let missing = CLI.requirements ?? ForeignBusybox.requirements { return missing }
        if Architecture.host != .x86_64 { return "the fixtures are foreign to an x86-64 host" }
        if let missing = Host.missing(programs: ["qemu-aarch64-static", "qemu-arm-static", "qemu-riscv64-static", "unshare"]) {
            return missing
        }
        do { try PrivateBinfmtProbe.run() } catch { return "needs a private binfmt_misc (Linux 6.7 or later): \(error)" }
        return nil
    }
}
