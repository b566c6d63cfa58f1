@testable import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// Builds with default options on distribution layouts: the root rule must find the root by looking inside,
/// and writes to /, /boot and /home must land where the image's own fstab puts them.
@Suite(.serialized, .enabled(if: DistributionLayout.requirements == nil, "\(DistributionLayout.requirements ?? "")"))
struct DistributionLayoutBuildTests {
    let work: TemporaryDirectory

    init() throws { work = try TemporaryDirectory("distro-layouts") }

    static let writes = #"[{"type": "shell", "inline": ["echo r > /root-file", "echo b > /boot/boot-file", "mkdir -p /home/user", "echo h > /home/user/home-file", "mkdir -p /boot/efi", "echo e > /boot/efi/efi-file"]}]"#

    /// Builds `layout` with `skip_mounts` for the ESP (`skipESP`, needed where the kernel has no vfat) and
    /// `builder` options, checks the source is unchanged and nothing is left, returns the raw output.
    func build(_ layout: DistributionLayout, skipESP: Bool = true, builder: String = "") throws -> (raw: String, stdout: String) {
        let image = try layout.make(in: work.path)
        let before = try FileDigest.sha256(image)
        let options = ([skipESP ? #""skip_mounts": ["/boot/efi"]"# : ""] + [builder]).filter { !$0.isEmpty }
        let template = try CLI.template(in: work.path, image: image, builder: options.joined(separator: ", "),
                                        provisioners: Self.writes)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(result.status.isSuccess, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(try FileDigest.sha256(image) == before, "the source image changed")
        if skipESP {
            #expect(result.stdout.contains("skip_mounts: /boot/efi is not mounted"), "no skip_mounts warning:\n\(result.stdout)")
            #expect(result.stdout.contains("which that filesystem hides at boot"), "\(result.stdout)")
        }
        #expect(CLI.leftovers(under: work.path).isEmpty)
        return (try DistributionLayout.raw(of: work.file("output-test/packer-test.qcow2")), result.stdout)
    }

    func exists(_ path: String, _ partition: Int, _ subvolume: String? = nil, in raw: String) throws -> Bool {
        try DistributionLayout.exists(path, partition: partition, subvolume: subvolume, of: raw, work: work.path)
    }

    @Test func rhelWritesLandOnRootAndBoot() throws {
        let (raw, stdout) = try build(.rhel)
        #expect(stdout.contains("partition 3 (xfs, label boot) has no /etc/fstab or /usr/lib/os-release"), "\(stdout)")
        #expect(stdout.contains("; using partition 4 (xfs, label root) as root"), "\(stdout)")
        #expect(try exists("root-file", 4, in: raw))
        #expect(try exists("home/user/home-file", 4, in: raw))
        #expect(try exists("boot-file", 3, in: raw))
        #expect(try exists("vmlinuz-test", 3, in: raw))
        #expect(try !exists("boot/boot-file", 4, in: raw), "written into the root's /boot, hidden at boot")
        #expect(try !exists("root-file", 3, in: raw))
    }

    @Test func fedoraWritesLandInTheirSubvolumes() throws {
        let (raw, stdout) = try build(.fedora)
        #expect(stdout.contains("using partition 4 (btrfs, label fedora), subvolume root as root"), "\(stdout)")
        #expect(try exists("root-file", 4, "root", in: raw))
        #expect(try exists("user/home-file", 4, "home", in: raw))
        #expect(try !exists("home/user/home-file", 4, "root", in: raw), "written into the root subvolume's /home")
        #expect(try exists("boot-file", 3, in: raw))
        #expect(try !exists("boot/boot-file", 4, "root", in: raw))
        #expect(try !exists("root-file", 4, in: raw), "written into the top-level subvolume")
    }

    /// The ESP as it was made: its one file, and nothing the build wrote.
    func expectESPUntouched(_ layout: DistributionLayout, in raw: String) throws {
        let esp = try #require(layout.esp)
        #expect(try DistributionLayout.espFile("/EFI/\(layout.rawValue)/grubx64.efi", partition: esp, of: raw) == "shim\n")
        #expect(try DistributionLayout.espFile("/efi-file", partition: esp, of: raw) == nil, "written to the ESP although skipped")
    }

    @Test func debianWritesLandOnTheRootAndTheSkippedESPIsUntouched() throws {
        let (raw, stdout) = try build(.debian)
        #expect(stdout.contains("using partition 1 (ext4, label root) as root"), "\(stdout)")
        #expect(try exists("root-file", 1, in: raw))
        #expect(try exists("boot/boot-file", 1, in: raw), "Debian's /boot is a directory of the root")
        #expect(try exists("home/user/home-file", 1, in: raw))
        // skip_mounts: the write went to the root's /boot/efi directory, which the ESP hides at boot (the warning).
        #expect(try exists("boot/efi/efi-file", 1, in: raw))
        try expectESPUntouched(.debian, in: raw)
    }

    @Test func ubuntuWritesLandOnTheRootAndTheXBOOTLDRBoot() throws {
        let (raw, stdout) = try build(.ubuntu)
        #expect(stdout.contains("using partition 1 (ext4, label cloudimg-rootfs) as root"), "\(stdout)")
        #expect(stdout.contains("mounted partition 16 (ext4, label BOOT) at /boot"), "\(stdout)")
        #expect(try exists("root-file", 1, in: raw))
        #expect(try exists("home/user/home-file", 1, in: raw))
        #expect(try exists("boot-file", 16, in: raw))
        #expect(try exists("vmlinuz-test", 16, in: raw))
        #expect(try !exists("boot/boot-file", 1, in: raw), "written into the root's /boot, hidden at boot")
        // skip_mounts: /boot/efi is then a directory of the mounted /boot.
        #expect(try exists("efi/efi-file", 16, in: raw))
        #expect(try !exists("boot/efi/efi-file", 1, in: raw))
        try expectESPUntouched(.ubuntu, in: raw)
    }

    /// Where the kernel has vfat (the VM), the ESP is mounted from the image's fstab and writes land on it.
    @Test(.enabled(if: DistributionLayout.vfatMissing == nil, "\(DistributionLayout.vfatMissing ?? "")"))
    func ubuntuWritesToBootEFILandOnTheESP() throws {
        let (raw, stdout) = try build(.ubuntu, skipESP: false)
        #expect(stdout.contains("mounted partition 15 (vfat, label UEFI) at /boot/efi"), "\(stdout)")
        #expect(try DistributionLayout.espFile("/efi-file", partition: 15, of: raw) == "e\n")
        #expect(try DistributionLayout.espFile("/EFI/ubuntu/grubx64.efi", partition: 15, of: raw) == "shim\n")
        #expect(try exists("boot-file", 16, in: raw))
        #expect(try !exists("efi/efi-file", 16, in: raw), "written into /boot's efi directory, hidden at boot")
        #expect(try exists("root-file", 1, in: raw))
    }

    /// Without vfat and without skip_mounts, the build stops before provisioning, naming the entry, the
    /// missing driver and the way out.
    @Test(.enabled(if: DistributionLayout.vfatMissing != nil, "this kernel has vfat: the ESP is mounted (ubuntuWritesToBootEFILandOnTheESP)"))
    func anESPThisKernelCannotMountStopsBeforeProvisioning() throws {
        let image = try DistributionLayout.ubuntu.make(in: work.path)
        let template = try CLI.template(in: work.path, image: image, provisioners: #"[{"type": "shell", "inline": ["echo provisioned"]}]"#)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(!result.status.isSuccess)
        let output = result.stdout + result.stderr
        #expect(output.contains("LABEL=UEFI") && output.contains("/boot/efi"), "\(output)")
        #expect(output.contains("no vfat driver"), "\(output)")
        #expect(output.contains("add \"/boot/efi\" to skip_mounts"), "\(output)")
        #expect(!output.contains("provisioned"))
        #expect(access(work.file("output-test"), F_OK) != 0, "an output directory was left")
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    /// {{.Device}} is the whole disk, as in the seed plugin, with every partition as {{.Device}}pN;
    /// {{.RootDevice}} is the root volume. Checked from the host by the bytes each device starts with.
    @Test func deviceIsTheWholeDiskWithEveryPartitionAndRootDeviceTheRoot() throws {
        // od prints one line for a few bytes; $(...) drops its newline.
        func bytes(_ device: String, at offset: Int, count: Int) -> String {
            "$(dd if=\(device) bs=1 skip=\(offset) count=\(count) 2>/dev/null | od -An -tx1 | tr -d ' ')"
        }
        let commands = [
            "test -b {{.Device}}", "test -b {{.Device}}p1", "test -b {{.Device}}p14", "test -b {{.Device}}p15",
            "test ! -e {{.Device}}p2",
            "test {{.RootDevice}} = {{.Device}}p1",
            // GPT header "EFI PART" at byte 512 of the whole disk.
            "test \(bytes("{{.Device}}", at: 512, count: 8)) = 4546492050415254",
            // ext4 magic 0xEF53 at byte 1080 of the root; "FAT16" at byte 54 of the ESP.
            "test \(bytes("{{.Device}}p1", at: 1080, count: 2)) = 53ef",
            "test \(bytes("{{.RootDevice}}", at: 1080, count: 2)) = 53ef",
            "test \(bytes("{{.Device}}p15", at: 54, count: 5)) = 4641543136",
            "echo device-checks-passed {{.Device}} {{.RootDevice}}", "echo mount-path {{.MountPath}}",
        ]
        let list = commands.map { "\"\($0)\"" }.joined(separator: ", ")
        // Before mounting, the devices are there too.
        let preMount = #""pre_mount_commands": ["test -b {{.Device}}p15 && test {{.RootDevice}} = {{.Device}}p1 && echo pre-mount-devices-ok"]"#
        let (_, stdout) = try build(.debian, builder: preMount + #", "post_mount_commands": ["# + list + "]")
        #expect(stdout.contains("pre-mount-devices-ok"), "\(stdout)")
        let words = try #require(stdout.split(separator: "\n").last { $0.contains("device-checks-passed /dev/") },
                                 "\(stdout)").split(separator: " ")
        let (device, root) = (String(words[words.count - 2]), String(words[words.count - 1]))
        #expect(device.hasPrefix("/dev/loop") || device.hasPrefix("/dev/nbd"), "\(device)")
        #expect(root == device + "p1")
        // The default mount_path names the whole disk, as the seed plugin's does.
        #expect(stdout.contains("mount-path /mnt/packer-builder-qemu-chroot/") && stdout.contains("/\(PathName.base(device))\n"),
                "\(stdout)")
    }

    @Test func anEntryWhoseDeviceTheImageLacksStopsBeforeProvisioning() throws {
        let image = try DistributionLayout.rhel.make(in: work.path)
        // The ESP partition holds no filesystem here, so fstab's UUID=7B77-95E7 names nothing in this image.
        let template = try CLI.template(in: work.path, image: image, provisioners: #"[{"type": "shell", "inline": ["echo provisioned"]}]"#)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(!result.status.isSuccess)
        let output = result.stdout + result.stderr
        #expect(output.contains("/boot/efi") && output.contains("skip_mounts"), "\(output)")
        #expect(!output.contains("provisioned"))
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }
}
