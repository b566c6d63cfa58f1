import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// An image whose chroot mount target (/proc, /sys, /dev, /dev/pts) is a symlink, a FIFO or a file: the run
/// stops promptly with a sentence naming the target, and the FUSE path's teardown leaves nothing behind
/// (reported: a /proc symlink left a build waiting for a qemu-storage-daemon nobody had told to stop;
/// on main it mounted proc over the image's root or its /etc instead).
@Suite(.serialized, .enabled(if: CLI.requirements == nil, "\(CLI.requirements ?? "")"))
struct BuildHostileMountTargetTests {
    let work: TemporaryDirectory
    init() throws { work = try TemporaryDirectory("builder-mount-target") }

    struct Case: Sendable, CustomTestStringConvertible {
        let script: String
        /// What the run's output must say.
        let says: String
        /// Template options of the hostile build.
        var builder = ""
        var testDescription: String { script }
    }

    static let cases = [
        Case(script: "rm -rf /proc && ln -s / /proc", says: "/proc is a symlink to / in the image"),
        Case(script: "rm -rf /proc && ln -s /etc /proc", says: "/proc is a symlink to /etc in the image"),
        Case(script: "rm -rf /proc && ln -s /proc /proc", says: "/proc is a symlink to /proc in the image"),
        Case(script: "rm -rf /sys && mkfifo /sys", says: "/sys is not a directory in the image (it is a FIFO)"),
        Case(script: "rm -rf /dev && touch /dev", says: "/dev is not a directory in the image (it is a regular file)"),
        // The default /dev bind hides the image's /dev/pts behind the host's; without it the image's counts.
        Case(script: "mkdir -p /dev && rm -rf /dev/pts && ln -s /tmp /dev/pts", says: "/dev/pts is a symlink to /tmp",
             builder: #""chroot_mounts": [["devpts", "devpts", "/dev/pts", "newinstance"]]"#),
        // An fstab mount the kernel refuses, on the FUSE path: the same prompt stop.
        Case(script: "echo LABEL=root /data ext4 nosuchoption 0 2 >> /etc/fstab",
             says: "the kernel rejected the ext4 filesystem on /dev/loop"),
    ]

    @Test(arguments: cases) func buildStopsAndLeavesNothing(_ hostile: Case) throws {
        let image = try planted(hostile.script)
        let template = try CLI.template(in: work.path, image: image, builder: hostile.builder)
        let (status, output) = try runPromptly(["build", template])
        #expect(status == .exited(1), "\(output)")
        #expect(output.contains(hostile.says), "\(output)")
        #expect(!HostPath.exists(work.file("output-test")))
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
    }

    @Test func shellStopsAndLeavesNothing() throws {
        let image = try planted("rm -rf /proc && ln -s / /proc")
        let (status, output) = try runPromptly(["shell", image, "--", "true"])
        #expect(status == .exited(1), "\(output)")
        #expect(output.contains("/proc is a symlink to /"), "\(output)")
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
    }

    /// A sample image changed by `script`, run with no chroot mounts in its way.
    private func planted(_ script: String) throws -> String {
        let base = try CLI.sampleImage(in: work.path)
        let template = try CLI.template(in: work.path, name: "plant.json", image: base,
                                        builder: #""output_directory": "plant", "chroot_mounts": [], "copy_files": []"#,
                                        provisioners: #"[{"type": "shell", "inline": ["\#(script)"]}]"#)
        let result = try CLI.run(["build", template], in: work.path)
        guard result.status.isSuccess else { throw BuildError("planting \(script) failed: \(result.stderr)") }
        return work.file("plant/packer-test.qcow2")
    }

    /// Runs the CLI with its output in a file; a run still going after `seconds` is a hang: it is killed and
    /// the test fails, rather than the suite stalling.
    private func runPromptly(_ arguments: [String], seconds: Double = 120) throws -> (NBDCore.ExitStatus?, String) {
        let logPath = work.file("run.log")
        let log = try FileDescriptor.open(logPath, O_WRONLY | O_CREAT | O_TRUNC)
        var options = SpawnOptions()
        options.directory = work.path
        options.stdout = log.rawValue
        options.stderr = log.rawValue
        let child = try ChildProcess.spawn(CLI.binary, arguments, options: options)
        try log.close()
        let status = child.wait(timeout: seconds)
        if status == nil { child.terminate(grace: 30) }
        let output = ProcFS.readText(logPath, limit: 1 << 20) ?? ""
        #expect(status != nil, "\(arguments.joined(separator: " ")) still ran after \(Int(seconds)) s:\n\(output)")
        return (status, output)
    }
}
