@testable import Builder
import Foundation
import Glibc
import NBDCore
import Testing
import TestSupport

/// `qemu-chroot inspect` on the distribution layouts the build tests make: as root it attaches the image
/// read-only and shows the root the build chooses (with its sentence) and the mount plan from the image's
/// fstab; the source stays byte for byte the same and nothing (mount, loop device, daemon) is left.
@Suite(.serialized, .enabled(if: DistributionLayout.requirements == nil, "\(DistributionLayout.requirements ?? "")"))
struct DistributionLayoutInspectTests {
    let work: TemporaryDirectory

    init() throws { work = try TemporaryDirectory("inspect-layouts") }

    /// `inspect --json` (plus `extra`) on `image`: the parsed report and the text form, checking that the
    /// image is unchanged and nothing is left behind.
    func inspect(_ image: String, _ extra: [String] = []) throws -> (json: [String: Any], text: String) {
        let before = try FileDigest.sha256(image)
        let json = try CLI.run(["inspect", "--json"] + extra + [image], in: work.path)
        #expect(json.status.isSuccess, "\(json.stderr)")
        let text = try CLI.run(["inspect"] + extra + [image], in: work.path)
        #expect(text.status.isSuccess, "\(text.stderr)")
        #expect(try FileDigest.sha256(image) == before, "inspect changed the source image")
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
        #expect(report["schema_version"] as? Int == 3)
        return (report, text.stdout)
    }

    func rootObject(_ report: [String: Any]) throws -> [String: Any] {
        try #require(report["root"] as? [String: Any])
    }

    /// The plan's rows for `mountPoint`, in order.
    func rows(_ report: [String: Any], at mountPoint: String) -> [[String: Any]] {
        (report["mount_plan"] as? [[String: Any]] ?? []).filter { $0["mount_point"] as? String == mountPoint }
    }

    /// The one row that mounts something at `mountPoint`, or stops a build there.
    func row(_ report: [String: Any], at mountPoint: String) throws -> [String: Any] {
        try #require(rows(report, at: mountPoint).first { $0["action"] as? String != "root" }, "no row for \(mountPoint): \(report["mount_plan"] ?? "nil")")
    }

    @Test func rhelShowsTheRootFoundInsideAndBootFromFstab() throws {
        let image = try DistributionLayout.rhel.make(in: work.path)
        let (report, text) = try inspect(image)
        #expect(report["mount_plan_unavailable"] is NSNull)
        let root = try rootObject(report)
        #expect(root["volume"] as? String == "partition 4 (xfs, label root)")
        #expect(root["partition"] as? Int == 4 && report["root_partition"] as? Int == 4)
        #expect(root["looked_inside"] as? Bool == true && root["settled"] as? Bool == true)
        let reason = root["reason"] as? String ?? ""
        #expect(reason.contains("partition 3 (xfs, label boot) has no /etc/fstab or /usr/lib/os-release"), "\(reason)")
        #expect(reason.contains("using partition 4 (xfs, label root) as root"), "\(reason)")

        let first = try #require((report["mount_plan"] as? [[String: Any]])?.first)
        #expect(first["mount_point"] as? String == "/" && first["origin"] as? String == "root rule")
        #expect(first["partition"] as? Int == 4 && first["fstype"] as? String == "xfs" && first["action"] as? String == "mount")
        #expect(rows(report, at: "/").contains { $0["action"] as? String == "root" && $0["reason"] is NSNull })
        let boot = try row(report, at: "/boot")
        #expect(boot["partition"] as? Int == 3 && boot["fstype"] as? String == "xfs" && boot["action"] as? String == "mount")
        #expect(boot["origin"] as? String == "fstab line 2 (UUID=\(DistributionLayout.bootUUID) on /boot)")
        #expect(boot["spec"] as? String == "UUID=\(DistributionLayout.bootUUID)")
        // The ESP partition holds no filesystem in this fixture: fstab's UUID names nothing, as the build says.
        let esp = try row(report, at: "/boot/efi")
        #expect(esp["action"] as? String == "stops_build" && esp["volume"] is NSNull)
        #expect((esp["reason"] as? String ?? "").contains("add \"/boot/efi\" to skip_mounts"), "\(esp)")

        #expect(text.contains("root:   partition 3 (xfs, label boot) has no /etc/fstab"), "\(text)")
        #expect(text.contains("mount partition 3 (xfs, label boot) as xfs"), "\(text)")
        #expect(text.contains("partition 4: start") && text.contains("<- root"), "\(text)")
        #expect(text.contains("CANNOT BE MOUNTED, a build stops"), "\(text)")
    }

    @Test func fedoraShowsTheSubvolumesFstabNames() throws {
        let image = try DistributionLayout.fedora.make(in: work.path)
        let (report, text) = try inspect(image)
        let root = try rootObject(report)
        #expect(root["partition"] as? Int == 4 && root["subvolume"] as? String == "root")
        #expect((root["reason"] as? String ?? "").contains("using partition 4 (btrfs, label fedora), subvolume root as root"), "\(root)")
        let first = try #require((report["mount_plan"] as? [[String: Any]])?.first)
        #expect(first["subvolume"] as? String == "root" && first["options"] as? [String] == ["subvol=root"])
        let home = try row(report, at: "/home")
        #expect(home["partition"] as? Int == 4 && home["subvolume"] as? String == "home" && home["action"] as? String == "mount")
        #expect((home["options"] as? [String] ?? []).contains("subvol=home"))
        let boot = try row(report, at: "/boot")
        #expect(boot["partition"] as? Int == 3 && boot["fstype"] as? String == "ext4" && boot["action"] as? String == "mount")
        #expect(text.contains("mount partition 4 (btrfs, label fedora), subvolume home as btrfs"), "\(text)")
    }

    /// The ESP is vfat: where the kernel has no vfat it shows as the build's stop (no driver), never dropped;
    /// with --skip-mount it shows as skipped.
    @Test func debianShowsTheESPAndWhyItCannotBeMountedHere() throws {
        let image = try DistributionLayout.debian.make(in: work.path)
        let (report, text) = try inspect(image)
        let root = try rootObject(report)
        #expect(root["volume"] as? String == "partition 1 (ext4, label root)")
        let esp = try row(report, at: "/boot/efi")
        #expect(esp["partition"] as? Int == 15 && esp["fstype"] as? String == "vfat")
        #expect(esp["origin"] as? String == "fstab line 2 (UUID=\(DistributionLayout.espUUID) on /boot/efi)")
        if DistributionLayout.vfatMissing != nil {
            #expect(esp["action"] as? String == "stops_build", "\(esp)")
            let reason = esp["reason"] as? String ?? ""
            #expect(reason.contains("this kernel has no vfat driver") && reason.contains("add \"/boot/efi\" to skip_mounts"), "\(reason)")
            #expect(text.contains("CANNOT BE MOUNTED, a build stops") && text.contains("no vfat driver"), "\(text)")
        } else {
            #expect(esp["action"] as? String == "mount", "\(esp)")
        }

        let (skipped, skippedText) = try inspect(image, ["--skip-mount", "/boot/efi"])
        let skippedESP = try row(skipped, at: "/boot/efi")
        #expect(skippedESP["action"] as? String == "skipped" && (skippedESP["reason"] as? String ?? "").contains("hides at boot"))
        #expect(skippedText.contains("skipped (skip_mounts)"), "\(skippedText)")

        let (rootOnly, _) = try inspect(image, ["--no-fstab-mounts"])
        #expect((rootOnly["mount_plan"] as? [Any])?.count == 1, "\(rootOnly["mount_plan"] ?? "nil")")
    }

    /// A raw image goes through the loop backend (kernel nbd where the host has it): /boot is the XBOOTLDR
    /// partition, by LABEL.
    @Test func ubuntuRawShowsTheXBOOTLDRBoot() throws {
        let raw = try DistributionLayout.raw(of: try DistributionLayout.ubuntu.make(in: work.path))
        let (report, text) = try inspect(raw)
        #expect(try rootObject(report)["volume"] as? String == "partition 1 (ext4, label cloudimg-rootfs)")
        let boot = try row(report, at: "/boot")
        #expect(boot["partition"] as? Int == 16 && boot["action"] as? String == "mount" && boot["spec"] as? String == "LABEL=BOOT")
        #expect(try row(report, at: "/boot/efi")["partition"] as? Int == 15)
        let backend = NBDAvailability.probe().isAvailable ? "nbd" : "loop"
        #expect(text.contains("attached read-only through \(backend)"), "\(text)")
    }

    @Test(.timeLimit(.minutes(3)), .enabled(if: LVMLayout.requirements == nil, "\(LVMLayout.requirements ?? "")"))
    func lvmShowsTheRootVolumeAndTheSwapLeftOut() throws {
        let image = try LVMLayout.make(in: work.path)
        let (report, _) = try inspect(image)
        let root = try rootObject(report)
        #expect(root["volume"] as? String == "LVM volume vg0/root (ext4, label root)" && root["partition"] is NSNull)
        #expect((root["reason"] as? String ?? "").contains("partition 1 (ext4, label boot) has no /etc/fstab"), "\(root)")
        let first = try #require((report["mount_plan"] as? [[String: Any]])?.first)
        #expect(first["logical_volume"] as? String == "vg0/root")
        #expect(try row(report, at: "/boot")["partition"] as? Int == 1)
        let swap = try #require((report["mount_plan"] as? [[String: Any]])?.first { $0["fstype"] as? String == "swap" })
        #expect(swap["action"] as? String == "left_out" && swap["reason"] as? String == "swap space is not mounted")
        let data = try row(report, at: "/srv")
        if DeviceMapper.unavailableReason != nil {
            #expect(data["action"] as? String == "stops_build")
            #expect((data["reason"] as? String ?? "").contains("needs device-mapper to join"), "\(data)")
        } else {
            #expect(data["action"] as? String == "mount" && data["logical_volume"] as? String == "vg0/data")
        }
    }

    /// SIGINT while the image is attached: everything is released and the status is 130, no report.
    @Test(.timeLimit(.minutes(2)))
    func anInterruptWhileAttachedReleasesEverything() throws {
        let image = try DistributionLayout.fedora.make(in: work.path)
        let before = try FileDigest.sha256(image)
        let output = work.file("inspect.out")
        let out = open(output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(out) }
        var options = SpawnOptions()
        options.stdout = out
        // Its run record holds a resource (server, device) only between the attach and the release, whatever the backend.
        func startAndWaitForTheAttach() throws -> (child: ChildProcess, attached: Bool, stillRunning: Bool) {
            // A run that ended before it was caught left its report: only the interrupted run's output counts.
            ftruncate(out, 0)
            lseek(out, 0, SEEK_SET)
            let child = try ChildProcess.spawn(CLI.binary, ["inspect", "--json", image], options: options)
            let attached = Poll.until(seconds: 120, interval: 0.005) {
                child.poll() != nil || ((try? FileTree.entries(RunLedger.defaultRoot)) ?? []).contains { run in
                    let record = ProcFS.readText("\(RunLedger.defaultRoot)/\(run)/record.json") ?? ""
                    return record.contains("\"ownerPID\":\(child.pid),") && record.contains("\"state\":\"held\"")
                }
            }
            return (child, attached, child.poll() == nil)
        }
        // The attached stage lasts about a second; a poll can miss it on a busy machine, so up to three runs get
        // the chance to be caught in it.
        var (child, attached, stillRunning) = try startAndWaitForTheAttach()
        for _ in 0..<2 where !(attached && stillRunning) {
            (child, attached, stillRunning) = try startAndWaitForTheAttach()
        }
        #expect(attached && stillRunning, "inspect ended before it held anything: \(child.poll().map { "\($0)" } ?? "running")")
        child.signal(SIGINT)
        let status = try #require(child.wait(timeout: 60), "inspect did not end after SIGINT")
        if stillRunning { #expect(status == .exited(130), "\(status)") }
        #expect(try FileDigest.sha256(image) == before, "inspect changed the source image")
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
        if status == .exited(130) { #expect((ProcFS.readText(output) ?? "").isEmpty, "a report after the interrupt") }
    }

    /// Without the attach (--blocks-only, or not root) the block-level report stays, with one line saying why.
    @Test func blocksOnlyAndNonRootSayWhyThePlanIsMissing() throws {
        let image = try DistributionLayout.rhel.make(in: work.path)
        let (report, text) = try inspect(image, ["--blocks-only"])
        #expect(report["mount_plan"] is NSNull && report["mount_plan_unavailable"] as? String == "--blocks-only")
        #expect(try rootObject(report)["looked_inside"] as? Bool == false)
        #expect(report["root_partition"] as? Int == 3, "the layout-level rule's first candidate")
        #expect(text.contains("mount plan: not shown (--blocks-only)"), "\(text)")

        // As nobody: the directory and image made readable for it.
        chmod(work.path, 0o755)
        chmod(image, 0o644)
        let result = try Command.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", CLI.binary,
                                                          "inspect", image])
        #expect(result.status.isSuccess, "\(result.stderr)")
        #expect(result.stdout.contains("mount plan: not shown (needs root to attach and mount the image read-only)"), "\(result.stdout)")
    }
}
