import Foundation
import Glibc
import NBDCore
import Testing
import TestSupport

/// Runs the built `qemu-chroot inspect` (through qemu-nbd and our NBD client) and compares with sfdisk.
@Suite(.serialized) struct LayoutInspectCLITests {
    /// The CLI sits next to the test bundle in the build directory.
    static var cli: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("qemu-chroot").path
    }

    static func missing(_ spec: ImageSpec, loop: Bool = false) -> String? {
        if access(cli, X_OK) != 0 { return "the qemu-chroot executable is not built next to the tests (\(cli))" }
        return Host.missing(programs: ImageFixtureCatalog.tools(for: spec) + ["sfdisk", "qemu-nbd", "qemu-img"], root: loop, loop: loop)
    }

    func inspect(_ image: String) throws -> [String: Any] {
        let result = try Command.run(LayoutInspectCLITests.cli, ["inspect", "--json", image])
        #expect(result.status.isSuccess, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    func partitions(_ report: [String: Any]) -> [ReferencePartition] {
        (report["partitions"] as? [[String: Any]] ?? []).map {
            ReferencePartition(number: $0["number"] as? Int ?? -1, startSector: ($0["start_sector"] as? NSNumber)?.uint64Value ?? 0,
                               sectors: ($0["sectors"] as? NSNumber)?.uint64Value ?? 0, type: ($0["type"] as? String ?? "").uppercased())
        }
    }

    /// inspect --json on the raw and the qcow2 form agrees with sfdisk on the raw image.
    func compare(_ spec: ImageSpec, sectorSize: Int = 512, usedBackup: Bool = false, root: Int) throws {
        let fixture = try ImageFixtures.build(spec)
        let reference = try #require(try LayoutReference.sfdisk(fixture.rawImage, sectorSize: sectorSize))
        for (image, format) in [(fixture.rawImage, "raw"), (try fixture.qcow2(), "qcow2")] {
            let report = try inspect(image)
            #expect(report["format"] as? String == format)
            #expect((report["virtual_size"] as? NSNumber)?.intValue == spec.diskMiB << 20)
            #expect(report["table"] as? String == (reference.label == "dos" ? "mbr" : reference.label))
            #expect(report["sector_size"] as? Int == reference.sectorSize)
            #expect(report["used_backup_gpt"] as? Bool == usedBackup)
            #expect(report["root_partition"] as? Int == root)
            #expect(partitions(report) == reference.partitions, "\(format)")
        }
    }

    @Test(.enabled(if: missing(ImageFixtureCatalog.gptFourUnusualOrder) == nil, "needs the CLI, qemu-nbd and fixture tools"))
    func gptFourPartitionsOutOfOrder() throws {
        try compare(ImageFixtureCatalog.gptFourUnusualOrder, root: 1)
    }

    @Test(.enabled(if: missing(ImageFixtureCatalog.mbrWithLogicals) == nil, "needs the CLI, qemu-nbd and fixture tools"))
    func mbrWithLogicals() throws {
        try compare(ImageFixtureCatalog.mbrWithLogicals, root: 2)
    }

    @Test(.enabled(if: missing(ImageFixtureCatalog.gptCorruptPrimary) == nil, "needs the CLI, qemu-nbd and fixture tools"))
    func gptWithCorruptPrimary() throws {
        try compare(ImageFixtureCatalog.gptCorruptPrimary, usedBackup: true, root: 2)
    }

    @Test(.enabled(if: missing(ImageFixtureCatalog.gpt4KSectors, loop: true) == nil, "needs the CLI, qemu-nbd, fdisk, root and a loop device"))
    func gptWith4KSectors() throws {
        try compare(ImageFixtureCatalog.gpt4KSectors, sectorSize: 4096, root: 1)
    }

    @Test(.enabled(if: missing(ImageFixtureCatalog.wholeDiskExt4) == nil, "needs the CLI, qemu-nbd and mkfs.ext4"))
    func wholeDiskFilesystem() throws {
        let fixture = try ImageFixtures.build(ImageFixtureCatalog.wholeDiskExt4)
        #expect(try LayoutReference.sfdisk(fixture.rawImage) == nil)
        let report = try inspect(try fixture.qcow2())
        #expect(report["table"] as? String == "none")
        #expect(report["root_partition"] as? Int == 0)
        let fs = report["whole_disk_filesystem"] as? [String: Any]
        #expect(fs?["type"] as? String == "ext4" && fs?["label"] as? String == "wholedisk")
        #expect((report["partitions"] as? [Any])?.isEmpty == true)
    }

    // MARK: Bad input: one line naming the file, exit 1

    func expectFailure(_ image: String, mentioning problem: String) throws {
        let result = try Command.run(LayoutInspectCLITests.cli, ["inspect", image])
        #expect(result.status == .exited(1), "\(result.status)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(image) && result.stderr.contains(problem), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test(.enabled(if: missing(ImageFixtureCatalog.gptCorruptPrimary) == nil, "needs the CLI, qemu-nbd and fixture tools"))
    func badInputGivesOneClearLine() throws {
        let dir = try TemporaryDirectory()
        try expectFailure(dir.file("missing.img"), mentioning: "No such file")

        let qcow = dir.file("bad-version.qcow2")
        try Command.check("qemu-img", ["create", "-q", "-f", "qcow2", qcow, "64M"])
        try patch(qcow, at: 4, [0, 0, 0, 9])
        try expectFailure(qcow, mentioning: "corrupt QCOW2 header: unsupported version 9")

        // A header that passes our checks but not qemu's: its reason reaches the one line.
        let hugeDisk = dir.file("huge.qcow2")
        try Command.check("qemu-img", ["create", "-q", "-f", "qcow2", hugeDisk, "64M"])
        try patch(hugeDisk, at: 24, [0, 4, 0, 0, 0, 0, 0, 0])  // 2^50 bytes: the L1 table no longer covers it
        try expectFailure(hugeDisk, mentioning: "L1 table")

        let fixture = try ImageFixtures.build(ImageFixtureCatalog.gptCorruptPrimary)
        let bothDamaged = dir.file("both-damaged.raw")
        try Command.check("cp", ["--sparse=always", fixture.rawImage, bothDamaged])
        try patch(bothDamaged, at: UInt64(64 << 20) - 512 + 56, [0xAA])
        try expectFailure(bothDamaged, mentioning: "damaged GPT")

        let truncated = dir.file("truncated.raw")
        try Command.check("cp", ["--sparse=always", fixture.rawImage, truncated])
        // Undo the fixture's damage to the primary, then cut the disk short of what the GPT describes.
        try patch(truncated, at: 512 + 56, [try readByte(fixture.rawImage, 512 + 56) ^ 0xFF])
        try Command.check("truncate", ["-s", "40M", truncated])
        try expectFailure(truncated, mentioning: "truncated image")
    }

    private func readByte(_ path: String, _ offset: UInt64) throws -> UInt8 {
        try FileBlockReader(path: path).read(at: offset, count: 1)[0]
    }

    private func patch(_ path: String, at offset: UInt64, _ bytes: [UInt8]) throws {
        let file = try FileDescriptor.open(path, O_WRONLY)
        try bytes.withUnsafeBytes { try file.pwriteAll($0, at: offset) }
        try file.close()
    }
}
