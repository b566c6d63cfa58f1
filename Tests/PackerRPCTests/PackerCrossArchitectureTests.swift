import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// Why the arm64 `packer build` cannot run here, or nil.
let packerCrossMissing: String? = packerBuildMissing ?? ForeignBusybox.requirements
    ?? Host.missing(programs: ["qemu-aarch64-static", "unshare"])
    ?? (Architecture.host == .x86_64 ? nil : "the arm64 fixture is foreign to an x86-64 host only")
    ?? { () -> String? in
        do { try PrivateBinfmtProbe.run() } catch { return "needs a private binfmt_misc (Linux 6.7 or later): \(error)" }
        return nil
    }()

/// `packer build` of an arm64 image with our plugin: its shell provisioner runs through qemu-aarch64-static
/// in a binfmt_misc private to the command, the host's binfmt_misc is unchanged, and the output holds what
/// the provisioner wrote and no emulator.
@Suite(.enabled(if: packerCrossMissing == nil, "\(packerCrossMissing ?? "")"), .serialized, .timeLimit(.minutes(10)))
struct PackerCrossArchitectureTests {
    @Test func arm64HCL2BuildRunsThroughTheEmulator() throws {
        let before = try HostBinfmt.snapshot()
        let harness = try PackerHarness()
        let image = harness.directory.file("arm64.qcow2")
        var options = SampleImage.Options()
        options.busybox = try ForeignBusybox.program(for: "arm64")
        try SampleImage.make(at: image, options: options)
        let template = try harness.write("template.pkr.hcl", """
            source "qemu-chroot" "arm64" {
              source_image     = "\(image)"
              output_directory = "output"
              image_name       = "image.qcow2"
            }
            build {
              sources = ["source.qemu-chroot.arm64"]
              provisioner "shell" {
                inline = ["uname -m > /root/arch", "echo machine-$(uname -m)", "ls /usr/bin /usr/libexec 2>/dev/null | grep -c qemu > /root/qemu-files || true"]
              }
            }
            """)
        let result = try harness.packer(["build", template])
        let log = result.stdout + result.stderr
        #expect(result.status == .exited(0), "\(log)")
        #expect(log.contains("machine-aarch64"))
        let files = try ImageFiles(harness.directory.file("output/image.qcow2"))
        #expect(try files.read("/root/arch") == "aarch64\n")
        #expect(try files.read("/root/qemu-files") == "0\n")
        #expect(try HostBinfmt.snapshot() == before)
        #expect(PackerBuildTests.leftovers(harness.directory.path) == [])
    }
}
