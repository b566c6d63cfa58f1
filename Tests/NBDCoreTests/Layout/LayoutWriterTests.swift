import Glibc
import NBDCore
import Testing
import TestSupport

/// GPT writing and partition growth, checked by sgdisk -v / sfdisk and read back by our parser.
@Suite(.serialized) struct LayoutWriterTests {
    static let mib: UInt64 = 1 << 20

    func apply(_ writes: [DiskWrite], to path: String) throws {
        let file = try FileDescriptor.open(path, O_RDWR)
        for write in writes { try write.bytes.withUnsafeBytes { try file.pwriteAll($0, at: write.offset) } }
        try file.close()
    }

    func sparseCopy(_ source: String, to target: String, bytes: UInt64) throws {
        try Command.check("cp", ["--sparse=always", source, target])
        try Command.check("truncate", ["-s", "\(bytes)", target])
    }

    @Test(.enabled(if: Host.missing(programs: ["sgdisk", "sfdisk"]) == nil, "needs sgdisk and sfdisk"))
    func freshGPTIsValidForSgdiskAndSfdisk() throws {
        let dir = try TemporaryDirectory()
        let image = dir.file("fresh.raw")
        try Command.check("truncate", ["-s", "64M", image])
        let root = try #require(GUID("4f68bce3-e8cd-4db1-96e7-fbcaf984b709"))
        let uuid = try #require(GUID("01234567-89ab-cdef-0123-456789abcdef"))
        try apply(GPTWriter.fresh(diskSize: 64 * LayoutWriterTests.mib, partitions: [
            GPTPartitionSpec(type: root, name: "root", uuid: uuid),
        ]), to: image)
        let verify = try Command.check("sgdisk", ["-v", image])
        #expect(verify.contains("No problems found"), "\(verify)")
        let reference = try #require(try LayoutReference.sfdisk(image))
        #expect(reference.partitions == [ReferencePartition(number: 1, startSector: 2048, sectors: 128_991,
                                                             type: "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709")])
        let layout = try DiskLayout.read(from: FileBlockReader(path: image))
        #expect(layout.warnings.isEmpty && !layout.usedBackupGPT)
        #expect(layout.partitions.first?.name == "root")
        #expect(layout.partitions.first?.uuid == "01234567-89ab-cdef-0123-456789abcdef")
        #expect(LayoutReference.ours(layout) == reference.partitions)
    }

    @Test func fresh4KGPTReadsBack() throws {
        let size = 64 * LayoutWriterTests.mib
        let disk = MemoryDisk(bytes: [UInt8](repeating: 0, count: Int(size)))
        let linux = try #require(GUID("0fc63daf-8483-4772-8e79-3d69d8477de4"))
        disk.apply(try GPTWriter.fresh(diskSize: size, sectorSize: 4096, partitions: [
            GPTPartitionSpec(type: linux, name: "a", size: 8 * LayoutWriterTests.mib),
            GPTPartitionSpec(type: linux, name: "b"),
        ]))
        let layout = try DiskLayout.read(from: disk)
        #expect(layout.sectorSize == 4096 && layout.warnings.isEmpty)
        #expect(layout.partitions.map(\.start) == [LayoutWriterTests.mib, 9 * LayoutWriterTests.mib])
        #expect(layout.partitions.last?.end == size - 5 * 4096)  // backup array (4 blocks) + header
    }

    /// Layout read after `qemu-img resize` (backup no longer at the end), like the builder's disk_size step.
    @Test(.enabled(if: LayoutFixtureTests.missing(ImageFixtureCatalog.gptFourUnusualOrder) == nil, "needs sgdisk, sfdisk, mkfs tools"))
    func growingAGPTMovesTheBackupAndExtendsTheLastPartition() throws {
        let fixture = try ImageFixtures.build(ImageFixtureCatalog.gptFourUnusualOrder)
        let dir = try TemporaryDirectory()
        let image = dir.file("grow.raw")
        let newSize = 600 * LayoutWriterTests.mib
        try sparseCopy(fixture.rawImage, to: image, bytes: newSize)
        let before = try DiskLayout.read(from: FileBlockReader(path: image))
        #expect(before.warnings.contains { $0.contains("not at the end of the disk") })
        try apply(before.growLastPartition(newDiskSize: newSize), to: image)
        try expectGrown(image, newSize: newSize, lastNumber: 2, label: "homefs")
    }

    /// Layout read before the resize, from a table whose primary is damaged: both copies are rewritten.
    @Test(.enabled(if: LayoutFixtureTests.missing(ImageFixtureCatalog.gptCorruptPrimary) == nil, "needs sgdisk, sfdisk, mkfs tools"))
    func growingAGPTReadFromItsBackupRepairsThePrimary() throws {
        let fixture = try ImageFixtures.build(ImageFixtureCatalog.gptCorruptPrimary)
        let dir = try TemporaryDirectory()
        let image = dir.file("grow.raw")
        let newSize = 96 * LayoutWriterTests.mib
        try sparseCopy(fixture.rawImage, to: image, bytes: 64 * LayoutWriterTests.mib)
        let before = try DiskLayout.read(from: FileBlockReader(path: image))
        #expect(before.usedBackupGPT)
        try Command.check("truncate", ["-s", "\(newSize)", image])
        try apply(before.growLastPartition(newDiskSize: newSize), to: image)
        try expectGrown(image, newSize: newSize, lastNumber: 2, label: "data")
    }

    func expectGrown(_ image: String, newSize: UInt64, lastNumber: Int, label: String) throws {
        let verify = try Command.check("sgdisk", ["-v", image])
        #expect(verify.contains("No problems found"), "\(verify)")
        let after = try DiskLayout.read(from: FileBlockReader(path: image))
        #expect(!after.usedBackupGPT && after.warnings.isEmpty, "\(after.warnings)")
        let last = after.partitions.first { $0.number == lastNumber }
        #expect(last?.end == newSize - 33 * 512)
        #expect(last?.filesystem?.label == label)
        let reference = try #require(try LayoutReference.sfdisk(image))
        #expect(LayoutReference.ours(after) == reference.partitions)
    }

    @Test(.enabled(if: LayoutFixtureTests.missing(ImageFixtureCatalog.mbrWithLogicals) == nil, "needs sfdisk, mkfs tools"))
    func growingAnMBRExtendsTheLastLogicalAndItsContainer() throws {
        let fixture = try ImageFixtures.build(ImageFixtureCatalog.mbrWithLogicals)
        let dir = try TemporaryDirectory()
        let image = dir.file("grow.raw")
        let newSize = 320 * LayoutWriterTests.mib
        try sparseCopy(fixture.rawImage, to: image, bytes: newSize)
        let before = try DiskLayout.read(from: FileBlockReader(path: image))
        try apply(before.growLastPartition(newDiskSize: newSize), to: image)
        let verify = try Command.run("sfdisk", ["--verify", image])
        #expect(verify.status.isSuccess, "\(verify.stdout) \(verify.stderr)")
        let after = try DiskLayout.read(from: FileBlockReader(path: image))
        let reference = try #require(try LayoutReference.sfdisk(image))
        #expect(LayoutReference.ours(after) == reference.partitions)
        let ends = Dictionary(uniqueKeysWithValues: after.partitions.map { ($0.number, $0.end) })
        #expect(ends[7] == newSize && ends[3] == newSize)
        #expect(ends[6] == before.partitions.first { $0.number == 6 }?.end)
    }

    @Test func shrinkingIsRefused() throws {
        let size = 16 * LayoutWriterTests.mib
        let disk = MemoryDisk(bytes: [UInt8](repeating: 0, count: Int(size)))
        let linux = try #require(GUID("0fc63daf-8483-4772-8e79-3d69d8477de4"))
        disk.apply(try GPTWriter.fresh(diskSize: size, partitions: [GPTPartitionSpec(type: linux)]))
        #expect(throws: LayoutError.self) { try DiskLayout.read(from: disk).growLastPartition(newDiskSize: size / 2) }
    }
}
