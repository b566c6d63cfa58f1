import Glibc
import NBDCore
@testable import PackerRPC
import Testing

/// Debian's packer 1.6.6 talking to our plugin binary; no root needed (Prepare only).
@Suite(.enabled(if: PackerHarness.missing == nil, "\(PackerHarness.missing ?? "")"), .timeLimit(.minutes(2)))
struct PackerValidateTests {
    @Test func validateReportsPrepareErrors() throws {
        let harness = try PackerHarness()
        let template = try harness.write("bad.json", #"""
        {"variables": {"fmt": "vmdk"},
         "builders": [{"type": "qemu-chroot", "source_image": "/nonexistent.qcow2", "format": "{{user `fmt`}}",
                       "mount_partitoin": 2}]}
        """#)
        let result = try harness.packer(["validate", template])
        #expect(result.status == .exited(1))
        let output = result.stdout + result.stderr
        #expect(output.contains("Failed to prepare build"))
        #expect(output.contains("cannot read the image \"/nonexistent.qcow2\""))
        #expect(output.contains("\"vmdk\" is not one of qcow2, raw"))
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
