import NBDCore
@testable import ImageLayout
@testable import QemuTools
@testable import HostSystem
import Testing

/// Hand-made hostile tables: each must give a clear error or warning, never a trap or a hang.
struct LayoutHostileTests {
    static let mib = 1 << 20
    static let linux = GUID("0fc63daf-8483-4772-8e79-3d69d8477de4")!

    func freshDisk(mib: Int = 16) throws -> MemoryDisk {
        let disk = MemoryDisk(bytes: [UInt8](repeating: 0, count: mib * LayoutHostileTests.mib))
        disk.apply(try GPTWriter.fresh(diskSize: disk.size, partitions: [
            GPTPartitionSpec(type: LayoutHostileTests.linux, size: UInt64(4 * LayoutHostileTests.mib)),
            GPTPartitionSpec(type: LayoutHostileTests.linux),
        ]))
        return disk
    }

    /// Rewrites both GPT copies with entry 2 changed and all checksums valid.
    func rewriteSecondEntry(_ disk: MemoryDisk, first: UInt64, last: UInt64) throws {
        let layout = try DiskLayout.read(from: disk)
        let gpt = try #require(layout.gpt)
        var array = gpt.rawArray
        array.putLE64(first, at: 128 + 32)
        array.putLE64(last, at: 128 + 40)
        var header = gpt.header
        header.entryArrayCRC = CRC32.checksum(array)
        disk.apply(GPTWriter.tableWrites(primary: header, array: array, sectorSize: 512))
    }

    func error(_ body: () throws -> Void) -> String {
        do { try body() } catch { return "\(error)" }
        return "no error"
    }

    @Test func crcMatchesZlib() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func guidIsMixedEndianOnDisk() throws {
        let guid = try #require(GUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b"))
        #expect(guid.bytes.prefix(4) == [0x28, 0x73, 0x2A, 0xC1])
        #expect(guid.description == "c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
    }

    @Test func partitionPastTheEndIsNamed() throws {
        let disk = try freshDisk()
        try rewriteSecondEntry(disk, first: 10_000, last: 40_000)
        #expect(error { _ = try DiskLayout.read(from: disk) }.contains("GPT partition 2 (LBA 10000…40000) lies past the end of the disk"))
    }

    @Test func overlappingPartitionsAreNamed() throws {
        let disk = try freshDisk()
        try rewriteSecondEntry(disk, first: 4000, last: 9000)
        #expect(error { _ = try DiskLayout.read(from: disk) } == "GPT partitions 1 and 2 overlap")
    }

    @Test func truncatedImageIsExplained() throws {
        let disk = try freshDisk()
        let truncated = MemoryDisk(bytes: Array(try disk.read(at: 0, count: 8 * LayoutHostileTests.mib)))
        #expect(error { _ = try DiskLayout.read(from: truncated) }.contains("truncated image"))
    }

    @Test func hugeEntryArrayIsRefused() throws {
        let disk = try freshDisk()
        var header = try #require(try DiskLayout.read(from: disk).gpt?.header)
        header.entryCount = 1_000_000
        disk.apply([DiskWrite(offset: 512, bytes: header.encode(sectorSize: 512))])
        let layout = try DiskLayout.read(from: disk)
        #expect(layout.usedBackupGPT && layout.warnings.first?.contains("exceeds 1 MiB") == true)
        header = header.mirrored(arrayLBA: header.alternateLBA - 32)
        disk.apply([DiskWrite(offset: disk.size - 512, bytes: header.encode(sectorSize: 512))])
        #expect(error { _ = try DiskLayout.read(from: disk) }.contains("backup GPT header at LBA 32767 (512-byte sectors): partition entry array of 1000000×128 bytes exceeds 1 MiB"))
    }

    @Test func protectiveMBRWithoutGPTIsAnError() throws {
        let disk = try freshDisk()
        disk.apply([DiskWrite(offset: 512, bytes: [UInt8](repeating: 0, count: 512)),
                    DiskWrite(offset: disk.size - 512, bytes: [UInt8](repeating: 0, count: 512))])
        #expect(error { _ = try DiskLayout.read(from: disk) }.contains("no GPT header was found"))
    }

    @Test func loopingExtendedChainStops() throws {
        var sector0 = [UInt8](repeating: 0, count: 512)
        MBREntry(bootFlag: 0, type: 0x05, startLBA: 2048, sectors: 20_000).encode(into: &sector0, at: 446)
        sector0[510] = 0x55; sector0[511] = 0xAA
        var ebr = [UInt8](repeating: 0, count: 512)
        MBREntry(bootFlag: 0, type: 0x83, startLBA: 2048, sectors: 1000).encode(into: &ebr, at: 446)
        MBREntry(bootFlag: 0, type: 0x05, startLBA: 0, sectors: 20_000).encode(into: &ebr, at: 462)  // links to itself
        ebr[510] = 0x55; ebr[511] = 0xAA
        let disk = MemoryDisk(bytes: [UInt8](repeating: 0, count: 16 * LayoutHostileTests.mib))
        disk.apply([DiskWrite(offset: 0, bytes: sector0), DiskWrite(offset: 2048 * 512, bytes: ebr)])
        let layout = try DiskLayout.read(from: disk)
        #expect(layout.partitions.map(\.number) == [1, 5])
        #expect(layout.warnings.contains { $0.contains("loops back") })
    }

    @Test func missingMountPartitionListsWhatExists() throws {
        let disk = try freshDisk()
        let layout = try DiskLayout.read(from: disk)
        #expect(error { _ = try layout.volume(mountPartition: 7) } == "mount_partition 7 does not exist; this disk has partitions 1 (no filesystem), 2 (no filesystem)")
        #expect(error { _ = try layout.volume(mountPartition: nil) }.contains("no partition holds a Linux filesystem"))
        #expect(error { _ = try layout.volume(mountPartition: 0) }.contains("GPT partition table"))
    }

    @Test func tinyDiskIsAnError() {
        #expect(error { _ = try DiskLayout.read(from: MemoryDisk(bytes: [1, 2, 3])) }.contains("smaller than one"))
    }

    // MARK: Growth in memory (the file-based tests check the results with sgdisk and sfdisk)

    @Test func growing4KGPTFillsTheNewEnd() throws {
        let small = 16 * LayoutHostileTests.mib, large = 40 * LayoutHostileTests.mib
        let disk = MemoryDisk(bytes: [UInt8](repeating: 0, count: small))
        disk.apply(try GPTWriter.fresh(diskSize: UInt64(small), sectorSize: 4096, partitions: [
            GPTPartitionSpec(type: LayoutHostileTests.linux, size: UInt64(2 * LayoutHostileTests.mib)),
            GPTPartitionSpec(type: LayoutHostileTests.linux),
        ]))
        let grown = MemoryDisk(bytes: try disk.read(at: 0, count: small) + [UInt8](repeating: 0, count: large - small))
        grown.apply(try DiskLayout.read(from: grown).growLastPartition(newDiskSize: UInt64(large)))
        let layout = try DiskLayout.read(from: grown)
        #expect(layout.warnings.isEmpty && layout.sectorSize == 4096)
        #expect(layout.partitions.last?.end == UInt64(large - 5 * 4096))
        #expect(layout.partitions.first?.end == UInt64(3 * LayoutHostileTests.mib))
    }

    @Test func growingAnMBRExtendsTheLastPrimary() throws {
        var sector0 = [UInt8](repeating: 0, count: 512)
        MBREntry(bootFlag: 0x80, type: 0x83, startLBA: 2048, sectors: 4096).encode(into: &sector0, at: 446)
        MBREntry(bootFlag: 0, type: 0x83, startLBA: 8192, sectors: 8192).encode(into: &sector0, at: 462)
        sector0[510] = 0x55; sector0[511] = 0xAA
        let disk = MemoryDisk(bytes: sector0 + [UInt8](repeating: 0, count: 32 * LayoutHostileTests.mib - 512))
        disk.apply(try DiskLayout.read(from: disk).growLastPartition(newDiskSize: disk.size))
        let layout = try DiskLayout.read(from: disk)
        #expect(layout.partitions.map(\.end) == [3 * UInt64(LayoutHostileTests.mib), disk.size])
        #expect(layout.partitions.first?.attributes == 4)  // boot flag kept
    }
}
