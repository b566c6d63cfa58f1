import Glibc
import NBDCore
@testable import PackerRPC
import Testing
import TestSupport

/// Debian's packer 1.6.6 talking to our plugin binary; no root needed (Prepare only).
@Suite(.enabled(if: PackerHarness.missing == nil, "\(PackerHarness.missing ?? "")"), .timeLimit(.minutes(2)))
struct PackerValidateTests {
    @Test func validateReportsPrepareErrors() throws {
        let harness = try PackerHarness()
        let template = try harness.write("bad.json", #"""
        {"variables": {"fmt": "vdi"},
         "builders": [{"type": "qemu-chroot", "source_image": "/nonexistent.qcow2", "format": "{{user `fmt`}}",
                       "mount_partitoin": 2}]}
        """#)
        let result = try harness.packer(["validate", template])
        #expect(result.status == .exited(1))
        let output = result.stdout + result.stderr
        #expect(output.contains("Failed to prepare build"))
        #expect(output.contains("cannot read the image \"/nonexistent.qcow2\""))
        #expect(output.contains("\"vdi\" is not one of qcow2, raw, vmdk, vhdx, vpc"))
        #expect(output.contains("did you mean \"mount_partition\""))
    }

    @Test func validateAcceptsAGoodTemplate() throws {
        let harness = try PackerHarness()
        let image = try harness.write("source.raw", "")
        let template = try harness.write("good.json", #"""
        {"builders": [{"type": "qemu-chroot", "source_image": "\#(image)", "chroot_mounts": [["proc", "proc", "/proc"]],
                       "disk_size": "1G", "copy_files": []}],
         "provisioners": [{"type": "shell", "inline": ["echo {{build `Device`}}"]}]}
        """#)
        let result = try harness.packer(["validate", template])
        #expect(result.status == .exited(0), "\(result.stdout)\(result.stderr)")
    }

    @Test func hcl2UsesOurConfigSpec() throws {
        let harness = try PackerHarness()
        let image = try harness.write("source.raw", "")
        let good = try harness.write("good.pkr.hcl", """
        source "qemu-chroot" "x" {
          source_image  = "\(image)"
          chroot_mounts = [["proc", "proc", "/proc"], ["bind", "/dev", "/dev", "ro"]]
          mount_partition = 1
          compression = false
        }
        build { sources = ["source.qemu-chroot.x"] }
        """)
        let ok = try harness.packer(["validate", good])
        #expect(ok.status == .exited(0), "\(ok.stdout)\(ok.stderr)")
        let bad = try harness.write("bad.pkr.hcl", """
        source "qemu-chroot" "x" {
          source_image = "\(image)"
          attach = "magic"
          bogus = 1
        }
        build { sources = ["source.qemu-chroot.x"] }
        """)
        let result = try harness.packer(["validate", bad])
        #expect(result.status == .exited(1))
        let output = result.stdout + result.stderr
        #expect(output.contains("An argument named \"bogus\" is not expected here"))
    }

    @Test func bothInstallNamesSideBySideKeepPacker16Working() throws {
        let harness = try PackerHarness()
        try Command.check("/bin/cp", [PackerHarness.pluginBinary!, harness.pluginDirectory + "/packer-plugin-qemu-chroot"])
        let image = try harness.write("source.raw", "")
        let template = try harness.write("good.json", #"{"builders": [{"type": "qemu-chroot", "source_image": "\#(image)"}]}"#)
        let result = try harness.packer(["validate", template])
        #expect(result.status == .exited(0), "\(result.stdout)\(result.stderr)")
    }

    @Test func tcpHandshakeWhenNoUnixSocketCanBeMade() throws {
        let harness = try PackerHarness()
        // A TMPDIR longer than a unix socket path may be: the plugin falls back to TCP on 127.0.0.1.
        let longTemp = harness.directory.file(String(repeating: "t", count: 120))
        #expect(mkdir(longTemp, 0o700) == 0)
        let bad = try harness.write("bad.json", #"{"builders": [{"type": "qemu-chroot"}]}"#)
        var environment = harness.environment
        environment["TMPDIR"] = longTemp
        let result = try Command.run(try ExecutableLookup.resolve("packer"), ["validate", bad], environment: environment,
                                     directory: harness.directory.path)
        let output = result.stdout + result.stderr
        #expect(output.contains("source_image: is required"), "\(output)")
    }

    @Test func modernLaunchPrintsTheFourFieldLine() throws {
        let binary = try #require(PackerHarness.pluginBinary)
        let directory = try TemporaryDirectory()
        let stdoutPath = directory.file("stdout")
        let stdout = try FileDescriptor.open(stdoutPath, O_WRONLY | O_CREAT, mode: 0o600)
        var environment = ProcessEnvironment.current
        environment[PluginHandshake.cookieKey] = PluginHandshake.cookieValue
        var options = SpawnOptions()
        options.stdout = stdout.rawValue
        let plugin = try ChildProcess.spawn(binary, ["start", "builder", "--protobuf", PluginLaunch.defaultComponent],
                                            environment: environment, options: options)
        defer { _ = plugin.terminate(grace: 1) }
        var line = ""
        Poll.until(seconds: 5, interval: 0.05) {
            line = String(decoding: (try? FileDescriptor.open(stdoutPath, O_RDONLY).read(count: 4096)) ?? [], as: UTF8.self)
            return line.hasSuffix("\n")
        }
        #expect(line.hasPrefix("5|0|unix|/") && line.hasSuffix("/plugin.sock\n"), "\(line)")
        // Killed before Packer connected, the plugin cannot remove its socket directory itself.
        _ = plugin.terminate(grace: 1)
        if let socket = line.split(separator: "|").last?.dropLast(), socket.hasSuffix("/plugin.sock") {
            try Command.check("/bin/rm", ["-rf", String(socket.dropLast("/plugin.sock".count))])
        }
    }

    @Test func startedByHandPrintsPackersMessage() throws {
        let binary = try #require(PackerHarness.pluginBinary)
        var environment = ProcessEnvironment.current
        environment.removeValue(forKey: PluginHandshake.cookieKey)
        let result = try Command.run(binary, [], environment: environment)
        #expect(result.status == .exited(1))
        #expect(result.stderr.contains(PluginHandshake.manualStartMessage))
        #expect(result.stdout.isEmpty)
        let describe = try Command.run(binary, ["describe"], environment: environment)
        #expect(describe.stdout == PluginLaunch.describeJSON + "\n")
    }
}
