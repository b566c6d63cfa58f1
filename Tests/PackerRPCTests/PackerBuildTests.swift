import Builder
import Glibc
import NBDCore
@testable import PackerRPC
import Testing
import TestSupport

/// `packer build` with Debian's packer 1.6.6 and our plugin, on a sample image (root: attach + mount).
/// Why `packer build` tests cannot run here, or nil.
let packerBuildMissing: String? = PackerHarness.missing
    ?? Host.missing(programs: ["qemu-img", "mkfs.ext4", "debugfs"], root: true, loop: true)

@Suite(.enabled(if: packerBuildMissing == nil, "\(packerBuildMissing ?? "")"), .serialized, .timeLimit(.minutes(10)))
struct PackerBuildTests {

    /// A sample image, host files for the provisioners, and a template using them.
    private final class Fixture {
        let harness: PackerHarness
        let image: String

        init() throws {
            harness = try PackerHarness()
            image = harness.directory.file("source.qcow2")
            try SampleImage.make(at: image, options: SampleImage.Options())
            _ = try harness.write("script.sh", "#!/bin/sh\necho script-ran-$FOO > /root/script.txt\necho script-stdout-marker\n")
            _ = try harness.write("upload.txt", "uploaded file\n")
            mkdir(harness.directory.file("tree"), 0o755)
            mkdir(harness.directory.file("tree/sub"), 0o755)
            _ = try harness.write("tree/a.txt", "a\n")
            _ = try harness.write("tree/sub/b.txt", "b\n")
        }

        var output: String { harness.directory.file("output/image.qcow2") }

        func jsonTemplate(inline: [String]? = nil) throws -> String {
            let commands = inline ?? ["echo inline-$FOO > /root/inline.txt", "echo inline-stdout-marker"]
            let quoted = commands.map { "\"\($0)\"" }.joined(separator: ", ")
            return try harness.write("template.json", """
            {"builders": [{"type": "qemu-chroot", "source_image": "\(image)", "output_directory": "output",
                           "image_name": "image.qcow2"}],
             "provisioners": [
               {"type": "shell", "inline": [\(quoted)], "environment_vars": ["FOO=bar"]},
               {"type": "shell", "script": "script.sh", "environment_vars": ["FOO=baz"]},
               {"type": "file", "source": "upload.txt", "destination": "/root/uploaded.txt"},
               {"type": "file", "source": "tree/", "destination": "/opt/tree"},
               {"type": "file", "direction": "download", "source": "/root/inline.txt", "destination": "downloaded.txt"}
             ]}
            """)
        }

        func hclTemplate() throws -> String {
            try harness.write("template.pkr.hcl", """
            source "qemu-chroot" "hcl" {
              source_image     = "\(image)"
              output_directory = "output"
              image_name       = "image.qcow2"
            }
            build {
              sources = ["source.qemu-chroot.hcl"]
              provisioner "shell" {
                inline           = ["echo inline-$FOO > /root/inline.txt", "echo inline-stdout-marker"]
                environment_vars = ["FOO=bar"]
              }
              provisioner "file" {
                source      = "upload.txt"
                destination = "/root/uploaded.txt"
              }
            }
            """)
        }
    }

    @Test func jsonTemplateBuildsWithShellAndFileProvisioners() throws {
        let fixture = try Fixture()
        let result = try fixture.harness.packer(["build", try fixture.jsonTemplate()])
        let log = result.stdout + result.stderr
        #expect(result.status == .exited(0), "\(log)")
        #expect(log.contains("inline-stdout-marker"))
        #expect(log.contains("script-stdout-marker"))
        let files = try ImageFiles(fixture.output)
        let inline = try files.read("/root/inline.txt")
        #expect(inline == "inline-bar\n", "\(String(describing: inline))")
        #expect(try files.read("/root/script.txt") == "script-ran-baz\n")
        #expect(try files.read("/root/uploaded.txt") == "uploaded file\n")
        #expect(try files.read("/opt/tree/a.txt") == "a\n")
        #expect(try files.read("/opt/tree/sub/b.txt") == "b\n")
        let downloaded = try FileDescriptor.open(fixture.harness.directory.file("downloaded.txt"), O_RDONLY).read(count: 100)
        #expect(String(decoding: downloaded, as: UTF8.self) == "inline-bar\n")
        #expect(PackerBuildTests.leftovers(fixture.harness.directory.path) == [])
    }

    @Test func hcl2TemplateBuilds() throws {
        let fixture = try Fixture()
        let result = try fixture.harness.packer(["build", try fixture.hclTemplate()])
        let log = result.stdout + result.stderr
        #expect(result.status == .exited(0), "\(log)")
        #expect(log.contains("inline-stdout-marker"))
        let files = try ImageFiles(fixture.output)
        #expect(try files.read("/root/inline.txt") == "inline-bar\n")
        #expect(try files.read("/root/uploaded.txt") == "uploaded file\n")
    }

    @Test func packerAndStandaloneBuildsProvisionTheSameContent() throws {
        let fixture = try Fixture()
        let cli = try #require(PackerHarness.sibling("qemu-chroot"), "the qemu-chroot product is not built")
        let template = try fixture.jsonTemplate()
        let viaPacker = try fixture.harness.packer(["build", template])
        #expect(viaPacker.status == .exited(0), "\(viaPacker.stdout)\(viaPacker.stderr)")
        let packerImage = fixture.harness.directory.file("packer.qcow2")
        #expect(rename(fixture.output, packerImage) == 0)
        let standalone = try Command.run(cli, ["build", "-force", template], environment: fixture.harness.environment,
                                         directory: fixture.harness.directory.path)
        #expect(standalone.status == .exited(0), "\(standalone.stdout)\(standalone.stderr)")
        let (a, b) = (try ImageFiles(packerImage), try ImageFiles(fixture.output))
        for path in ["/root/inline.txt", "/root/script.txt", "/root/uploaded.txt", "/opt/tree/a.txt", "/opt/tree/sub/b.txt",
                     "/etc/resolv.conf", "/etc/passwd"] {
            let (x, y) = (try a.read(path), try b.read(path))
            #expect(x != nil && x == y, "\(path): \(String(describing: x)) vs \(String(describing: y))")
        }
    }

    @Test func postProcessorsSeeGeneratedDataAndCanDestroyTheImage() throws {
        let fixture = try Fixture()
        let template = try fixture.harness.write("pp.json", """
        {"builders": [{"type": "qemu-chroot", "source_image": "\(fixture.image)", "output_directory": "output",
                       "image_name": "image.qcow2"}],
         "post-processors": [[
           {"type": "shell-local", "inline": ["echo pp-device={{build `Device`}} pp-root={{build `RootDevice`}} pp-image={{build `ImageName`}}"]},
           {"type": "artifice", "files": ["upload.txt"], "keep_input_artifact": false}
         ]]}
        """)
        let result = try fixture.harness.packer(["build", template])
        let log = result.stdout + result.stderr
        #expect(result.status == .exited(0), "\(log)")
        #expect(log.contains("pp-device=/dev/") && log.contains("pp-image=image.qcow2"), "\(log)")
        // Device is the whole disk, RootDevice the root partition on it (the sample image's partition 1).
        let device = log.split(separator: "pp-device=").dropFirst().first?.split(separator: " ").first.map(String.init) ?? ""
        #expect(!device.isEmpty && log.contains("pp-root=\(device)p1 "), "\(log)")
        #expect(!HostPath.exists(fixture.output), "Artifact.Destroy removes the discarded image")
    }

    @Test func ctrlCCancelsAndCleansUp() throws {
        let fixture = try Fixture()
        let (packer, logPath) = try Self.startLongBuild(fixture)
        defer { _ = packer.terminate(grace: 5) }
        #expect(Self.text(logPath).contains("long-command-started"))
        kill(-packer.pid, SIGINT) // Ctrl-C reaches the whole process group
        let status = packer.wait(timeout: 120)
        let output = Self.text(logPath)
        #expect(status != nil && status != .exited(0), "\(output)")
        #expect(output.contains("errored after") && output.contains("build was cancelled"), "\(output)")
        #expect(output.contains("Cleanly cancelled builds after being interrupted"), "\(output)")
        #expect(!HostPath.exists(fixture.output))
        #expect(PackerBuildTests.leftovers(fixture.harness.directory.path) == [])
    }

    @Test func packerKilledMidBuildLeavesNothingBehind() throws {
        let fixture = try Fixture()
        let (packer, logPath) = try Self.startLongBuild(fixture)
        defer { _ = packer.terminate(grace: 5) }
        #expect(Self.text(logPath).contains("long-command-started"))
        // SIGKILL every packer process of the group (panicwrap parent, packer, its provisioner plugins),
        // but not our plugin: it must notice the lost connection, cancel and clean up on its own.
        let group = ProcFS.pids().filter { getpgid($0) == packer.pid }
        let plugin = group.filter { (ProcFS.readText("/proc/\($0)/cmdline") ?? "").contains("packer-builder-qemu-chroot") }
        #expect(plugin.count == 1)
        for pid in group where !plugin.contains(pid) { kill(pid, SIGKILL) }
        // Packer's grandchild, not ours: /proc is all there is to watch.
        Poll.until(seconds: 60, interval: 0.1) { !plugin.contains(where: { kill($0, 0) == 0 && !Self.isZombie($0) }) }
        #expect(!plugin.contains(where: { kill($0, 0) == 0 && !Self.isZombie($0) }), "the plugin did not exit")
        #expect(!HostPath.exists(fixture.output))
        #expect(PackerBuildTests.leftovers(fixture.harness.directory.path) == [])
    }

    /// `packer build` in its own process group (as in a terminal), returned once its long provisioning
    /// command runs; its output goes to the returned log file.
    private static func startLongBuild(_ fixture: Fixture) throws -> (ChildProcess, String) {
        let template = try fixture.jsonTemplate(inline: ["echo long-command-started", "sleep 600"])
        let logPath = fixture.harness.directory.file("packer.log")
        let log = try FileDescriptor.open(logPath, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        var options = SpawnOptions()
        options.stdout = log.rawValue
        options.stderr = log.rawValue
        options.directory = fixture.harness.directory.path
        options.newProcessGroup = true
        let packer = try ChildProcess.spawn(try ExecutableLookup.resolve("packer"), ["build", template],
                                            environment: fixture.harness.environment, options: options)
        Poll.until(seconds: 120, interval: 0.1) { text(logPath).contains("long-command-started") || packer.poll() != nil }
        return (packer, logPath)
    }

    static func isZombie(_ pid: pid_t) -> Bool {
        (ProcFS.readText("/proc/\(pid)/stat") ?? "").contains(") Z ")
    }

    static func text(_ path: String) -> String {
        guard let fd = try? FileDescriptor.open(path, O_RDONLY), let bytes = try? fd.read(count: 1 << 20) else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// What a run could leave behind that involves `directory`: loop devices backed by files in it,
    /// processes (qemu-storage-daemon, the plugin) naming it, mounts under it.
    static func leftovers(_ directory: String) -> [String] {
        var found: [String] = []
        for entry in (try? FileTree.entries("/sys/block")) ?? [] where entry.hasPrefix("loop") {
            let backing = text("/sys/block/\(entry)/loop/backing_file")
            if backing.contains(directory) { found.append("\(entry): \(backing)") }
        }
        for pid in ProcFS.pids() where pid != getpid() {
            if let commandLine = ProcFS.readText("/proc/\(pid)/cmdline"), commandLine.contains(directory) {
                found.append("process \(pid): \(commandLine.split(separator: "\0").joined(separator: " "))")
            }
        }
        if text("/proc/self/mountinfo").contains(directory) { found.append("a mount under \(directory)") }
        return found
    }
}
