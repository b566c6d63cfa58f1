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

    static let writes = #"[{"type": "shell", "inline": ["echo r > /root-file", "echo b > /boot/boot-file", "mkdir -p /home/user", "echo h > /home/user/home-file"]}]"#

    /// Builds `layout` with `skip_mounts` for the ESP only (this kernel has no vfat), returns the raw output.
    func build(_ layout: DistributionLayout) throws -> (raw: String, stdout: String) {
        let image = try layout.make(in: work.path)
        let before = try FileDigest.sha256(image)
        let template = try CLI.template(in: work.path, image: image, builder: #""skip_mounts": ["/boot/efi"]"#,
                                        provisioners: Self.writes)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(result.status.isSuccess, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(try FileDigest.sha256(image) == before, "the source image changed")
        #expect(result.stdout.contains("/boot/efi is not mounted"), "no skip_mounts warning:\n\(result.stdout)")
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
