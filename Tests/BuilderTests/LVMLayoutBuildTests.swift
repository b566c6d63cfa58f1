import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// The LVM layout (MBR: p1 ext4 /boot, p2 a PV of vg0 with root, swap and a two-segment data LV at /srv), made
/// by tests/lvm-layout with lvm2's own tools, built with default options. Here (no device-mapper) the root LV is a
/// loop device at its offset and /srv needs `skip_mounts` (only device-mapper joins two segments); on a kernel
/// with device-mapper (the VM run, tests/vm/lvm-udev.sh) every LV is a dm device of ours. Either way writes must
/// land on the LV and the partition the image's fstab names, as the host's tools see them in the output.
@Suite(.serialized, .enabled(if: LVMLayout.requirements == nil, "\(LVMLayout.requirements ?? "")"))
struct LVMLayoutBuildTests {
    let work: TemporaryDirectory

    init() throws { work = try TemporaryDirectory("lvm-layout") }

    @Test(.timeLimit(.minutes(3)))
    func writesLandOnTheRootVolumeAndTheBootPartition() throws {
        let image = try LVMLayout.make(in: work.path)
        let before = try FileDigest.sha256(image)
        let writes = #"[{"type": "shell", "inline": ["echo r > /root-file", "echo b > /boot/boot-file", "grep -q vg0-root /etc/fstab"]}]"#
        let template = try CLI.template(in: work.path, image: image, builder: Self.hasDeviceMapper ? "" : #""skip_mounts": ["/srv"]"#,
                                        provisioners: writes)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(result.status.isSuccess, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(result.stdout.contains("partition 1 (ext4, label boot) has no /etc/fstab or /usr/lib/os-release"), "\(result.stdout)")
        #expect(result.stdout.contains("using LVM volume vg0/root (ext4, label root) as root"), "\(result.stdout)")
        #expect(Self.hasDeviceMapper || result.stdout.contains("skip_mounts: /srv is not mounted"), "\(result.stdout)")
        #expect(try FileDigest.sha256(image) == before, "the source image changed")
        #expect(CLI.leftovers(under: work.path).isEmpty)

        let raw = try LVMLayout.raw(of: work.file("output-test/packer-test.qcow2"))
        #expect(try LVMLayout.has(raw, "root", "root-file"))
        #expect(try LVMLayout.has(raw, "root", "etc/fstab"))
        #expect(try LVMLayout.has(raw, "boot", "boot-file"))
        #expect(try LVMLayout.has(raw, "boot", "vmlinuz-test"))
        #expect(try !LVMLayout.has(raw, "root", "boot/boot-file"), "written into the root LV's /boot, hidden at boot")
        #expect(try !LVMLayout.has(raw, "boot", "root-file"))
    }

    static var hasDeviceMapper: Bool { DeviceMapper.unavailableReason == nil }

    @Test(.timeLimit(.minutes(3)), .enabled(if: !hasDeviceMapper, "needs a kernel without device-mapper (with it the two segments are joined: make vm-test)"))
    func aTwoSegmentVolumeWithoutDeviceMapperStopsBeforeProvisioningNamingIt() throws {
        let image = try LVMLayout.make(in: work.path)
        let template = try CLI.template(in: work.path, image: image, provisioners: #"[{"type": "shell", "inline": ["echo provisioned"]}]"#)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(!result.status.isSuccess)
        let output = result.stdout + result.stderr
        #expect(output.contains("LVM volume vg0/data is of unsupported kind linear in 2 segments, which needs device-mapper to join (this kernel has none)"), "\(output)")
        #expect(output.contains("add \"/srv\" to skip_mounts"), "\(output)")
        #expect(!output.contains("provisioned"))
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test(.timeLimit(.minutes(3)))
    func fstabNameOfAVolumeGroupTheImageLacksIsRefusedBeforeProvisioning() throws {
        let image = try LVMLayout.make(in: work.path)
        let template = try CLI.template(in: work.path, image: image, builder: #""image_mounts": [["/dev/vg0/root", "/"], ["/dev/mapper/rhel-home", "/home"]]"#,
                                        provisioners: #"[{"type": "shell", "inline": ["echo provisioned"]}]"#)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(!result.status.isSuccess)
        let output = result.stdout + result.stderr
        #expect(output.contains("the image has no LVM volume group rhel; it has vg0"), "\(output)")
        #expect(!output.contains("provisioned"))
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }
}

/// tests/lvm-layout, which makes the image and reads it back with the host's own tools (lvm2, losetup, mount).
enum LVMLayout {
    static let requirements = Host.missing(programs: ["lvm", "sfdisk", "mkfs.ext4", "mkswap", "busybox", "losetup",
                                                      "unshare", "qemu-img", "qemu-storage-daemon"],
                                           root: true, loop: true, fuse: true)

    /// tests/lvm-layout, found from this file's place in the checkout.
    static var script: String {
        let parts = "\(#filePath)".split(separator: "/").dropLast(3)
        return "/" + parts.joined(separator: "/") + "/tests/lvm-layout"
    }

    static func make(in directory: String) throws -> String {
        try Command.check("/bin/bash", [script, "make", directory])
        return "\(directory)/lvm.qcow2"
    }

    static func raw(of image: String) throws -> String {
        let raw = image + ".check.raw"
        try Command.check(try ExecutableLookup.resolve("qemu-img"), ["convert", "-O", "raw", image, raw])
        return raw
    }

    /// Whether `path` exists on `volume` ("boot": partition 1; "root", "data": that LV) of the raw disk.
    static func has(_ raw: String, _ volume: String, _ path: String) throws -> Bool {
        let result = try Command.run("/bin/bash", [script, "has", raw, volume, path])
        switch result.status {
        case .exited(0): return true
        case .exited(1): return false
        default: throw BuildError("tests/lvm-layout has \(volume) \(path): \(result.status) \(result.stderr)")
        }
    }
}
