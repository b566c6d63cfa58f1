@testable import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// The options that change which of the image's filesystems join the root, in `shell` and in templates,
/// on the Ubuntu layout (root p1, ESP p15 vfat, XBOOTLDR /boot p16) and the Debian one (root p1, ESP p15).
@Suite(.serialized, .enabled(if: DistributionLayout.requirements == nil, "\(DistributionLayout.requirements ?? "")"))
struct FilesystemTreeOptionTests {
    let work: TemporaryDirectory

    init() throws { work = try TemporaryDirectory("tree-options") }

    func shell(_ arguments: [String]) throws -> (status: HostSystem.ExitStatus, output: String) {
        let result = try CLI.run(["shell", "--read-only"] + arguments, in: work.path)
        return (result.status, result.stdout + result.stderr)
    }

    // MARK: shell flags

    @Test func shellSkipMountLeavesTheESPOutAndMountsTheRest() throws {
        let image = try DistributionLayout.ubuntu.make(in: work.path)
        let run = try shell(["--skip-mount", "/boot/efi", image, "--", "cat", "/boot/vmlinuz-test"])
        #expect(run.status.isSuccess, "\(run.output)")
        #expect(run.output.contains("kernel\n"), "/boot (p16) is mounted: \(run.output)")
        #expect(run.output.contains("skip_mounts: /boot/efi is not mounted"), "\(run.output)")
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test(.enabled(if: DistributionLayout.vfatMissing != nil, "this kernel has vfat: the ESP mounts"))
    func shellWithoutSkipMountNamesTheFlag() throws {
        let image = try DistributionLayout.ubuntu.make(in: work.path)
        let run = try shell([image, "--", "echo", "ran"])
        #expect(!run.status.isSuccess)
        #expect(run.output.contains("no vfat driver") && run.output.contains("--skip-mount /boot/efi"), "\(run.output)")
        #expect(!run.output.contains("ran\n"))
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    /// A mount point missing from a read-only image cannot be made: said with the entry and the ways out.
    @Test func aMissingMountPointInAReadOnlyImageIsNamed() throws {
        let image = try DistributionLayout.ubuntu.make(in: work.path)
        let run = try shell(["--image-mount", "16:/srv/boot", image, "--", "echo", "ran"])
        #expect(!run.status.isSuccess)
        #expect(run.output.contains("fstab line 1 (/dev/vda16 on /srv/boot): the image has no directory /srv/boot")
                    && run.output.contains("attached read-only"), "\(run.output)")
        #expect(!run.output.contains("ran\n"))
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test func shellNoFstabMountsMountsTheRootOnly() throws {
        let image = try DistributionLayout.ubuntu.make(in: work.path)
        let run = try shell(["--no-fstab-mounts", image, "--", "sh", "-c", "test -d /boot/efi && test ! -e /boot/vmlinuz-test && echo root-only"])
        #expect(run.status.isSuccess, "\(run.output)")
        #expect(run.output.contains("root-only\n"), "\(run.output)")
        #expect(!run.output.contains("skip_mounts"), "nothing of the fstab was looked at: \(run.output)")
    }

    @Test func shellImageMountReplacesTheFstab() throws {
        let image = try DistributionLayout.ubuntu.make(in: work.path)
        for spec in ["16", "LABEL=BOOT"] {
            let run = try shell(["--image-mount", "\(spec):/home", image, "--", "sh", "-c",
                                 "cat /home/vmlinuz-test && test ! -e /boot/vmlinuz-test && echo fstab-not-read"])
            #expect(run.status.isSuccess, "\(spec): \(run.output)")
            #expect(run.output.contains("kernel\nfstab-not-read\n"), "\(spec): \(run.output)")
            #expect(run.output.contains("mounted partition 16 (ext4, label BOOT) at /home"), "\(spec): \(run.output)")
        }
        let refused = try shell(["--image-mount", "16", image, "--", "true"])
        #expect(refused.status == .exited(64), "\(refused.output)")
        #expect(refused.output.contains("is not SPEC:PATH"), "\(refused.output)")
    }

    @Test func shellPartitionChoosesTheRoot() throws {
        let image = try DistributionLayout.ubuntu.make(in: work.path)
        let run = try shell(["--partition", "1", "--skip-mount", "/boot/efi", image, "--", "cat", "/usr/lib/os-release"])
        #expect(run.status.isSuccess, "\(run.output)")
        #expect(run.output.contains("using partition 1 (ext4, label cloudimg-rootfs) as root: mount_partition is 1"), "\(run.output)")
        // /boot (p16) is no root (no /proc to mount on, no shell), yet the flag's choice is what is used.
        let boot = try shell(["--partition", "16", image, "--", "true"])
        #expect(!boot.status.isSuccess)
        #expect(boot.output.contains("using partition 16 (ext4, label BOOT) as root: mount_partition is 16"), "\(boot.output)")
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    // MARK: template options

    static let writes = #"[{"type": "shell", "inline": ["echo b > /boot/boot-file", "echo ran-provisioner"]}]"#

    func build(_ image: String, _ builder: String) throws -> (raw: String?, output: String) {
        let template = try CLI.template(in: work.path, image: image, builder: builder, provisioners: Self.writes)
        let result = try CLI.run(["build", template], in: work.path)
        let output = result.stdout + result.stderr
        #expect(result.status.isSuccess, "\(output)")
        #expect(CLI.leftovers(under: work.path).isEmpty)
        guard result.status.isSuccess else { return (nil, output) }
        return (try DistributionLayout.raw(of: work.file("output-test/packer-test.qcow2")), output)
    }

    func exists(_ path: String, _ partition: Int, in raw: String) throws -> Bool {
        try DistributionLayout.exists(path, partition: partition, of: raw, work: work.path)
    }

    @Test func imageMountsReplaceTheFstab() throws {
        let image = try DistributionLayout.ubuntu.make(in: work.path)
        // No skip_mounts: the ESP is not in image_mounts, so this kernel's missing vfat does not matter.
        let (raw, output) = try build(image, #""image_mounts": [["LABEL=BOOT", "/boot"]]"#)
        #expect(output.contains("mounted partition 16 (ext4, label BOOT) at /boot"), "\(output)")
        let built = try #require(raw)
        #expect(try exists("boot-file", 16, in: built))
        #expect(try !exists("boot/boot-file", 1, in: built))
    }

    @Test func fstabMountsFalseMountsTheRootOnly() throws {
        let image = try DistributionLayout.ubuntu.make(in: work.path)
        let (raw, output) = try build(image, #""fstab_mounts": false"#)
        #expect(!output.contains("mounted partition"), "\(output)")
        let built = try #require(raw)
        #expect(try exists("boot/boot-file", 1, in: built), "today's root-only behaviour: into the root's /boot")
        #expect(try !exists("boot-file", 16, in: built))
    }

    @Test func aNofailEntryWhoseDeviceIsMissingWarnsAndGoesOn() throws {
        let image = try DistributionLayout.debian.make(
            in: work.path, extraFstab: "UUID=0badf00d-0000-4000-8000-000000000000 /data ext4 defaults,nofail 0 2\n")
        let (raw, output) = try build(image, #""skip_mounts": ["/boot/efi"]"#)
        #expect(output.contains("warning: nofail:") && output.contains("UUID=0badf00d-0000-4000-8000-000000000000")
                    && output.contains("going on without it"), "\(output)")
        #expect(output.contains("ran-provisioner"), "\(output)")
        #expect(try exists("boot/boot-file", 1, in: try #require(raw)))
    }
}
