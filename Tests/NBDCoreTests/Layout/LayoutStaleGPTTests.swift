import NBDCore
@testable import ImageLayout
@testable import HostSystem
import Testing
import TestSupport

/// A GPT header left on a disk that was repartitioned with an MBR: Linux ignores a GPT unless the MBR
/// protects it with an 0xEE entry (block/partitions/efi.c), so the MBR is what the booted system sees.
struct LayoutStaleGPTTests {
    static let mib = 1 << 20
    static let linux = GUID("0fc63daf-8483-4772-8e79-3d69d8477de4")!

    /// A fresh GPT (protective MBR, two partitions) whose LBA 0 is then replaced by an MBR with one Linux
    /// partition at 8 MiB; `alsoProtective` adds an 0xEE entry (a hybrid MBR).
    func staleGPTDisk(alsoProtective: Bool) throws -> MemoryDisk {
        let disk = MemoryDisk(bytes: [UInt8](repeating: 0, count: 16 * Self.mib))
        disk.apply(try GPTWriter.fresh(diskSize: disk.size, partitions: [
            GPTPartitionSpec(type: Self.linux, size: UInt64(4 * Self.mib)), GPTPartitionSpec(type: Self.linux),
        ]))
        var sector = [UInt8](repeating: 0, count: 512)
        MBREntry(bootFlag: 0x80, type: 0x83, startLBA: 16384, sectors: 8192).encode(into: &sector, at: 446)
        if alsoProtective { MBREntry(bootFlag: 0, type: 0xEE, startLBA: 1, sectors: 2047).encode(into: &sector, at: 462) }
        sector[510] = 0x55
        sector[511] = 0xAA
        disk.apply([DiskWrite(offset: 0, bytes: sector)])
        return disk
    }

    @Test func anMBRWithoutAProtectiveEntryWinsOverAStaleGPT() throws {
        let layout = try DiskLayout.read(from: try staleGPTDisk(alsoProtective: false))
        #expect(layout.table == .mbr)
        #expect(layout.partitions.map(\.number) == [1])
        #expect(layout.partitions.first?.start == 16384 * 512)
        #expect(layout.warnings.contains { $0.contains("no protective (0xEE) entry") }, "\(layout.warnings)")
    }

    @Test func aHybridMBRStillMeansTheGPT() throws {
        let layout = try DiskLayout.read(from: try staleGPTDisk(alsoProtective: true))
        #expect(layout.table == .gpt)
        #expect(layout.partitions.map(\.number) == [1, 2])
        #expect(layout.warnings.contains { $0.contains("hybrid") })
    }

    /// The same with the tools a user would have used: sgdisk made a GPT, then sfdisk wrote a DOS label
    /// over it without wiping (`--wipe never`), which leaves both GPT headers in place.
    @Test(.enabled(if: Host.has("sgdisk") && Host.has("sfdisk"), "needs sgdisk and sfdisk"))
    func sfdiskOverAnSgdiskDiskIsReadAsMBR() throws {
        let work = try TemporaryDirectory("layout-stale-gpt")
        let path = work.file("disk.raw")
        try Command.check("/usr/bin/truncate", ["-s", "16M", path])
        try Command.check(try ExecutableLookup.resolve("sgdisk"), ["-n", "1:2048:+4M", "-n", "2:0:0", path])
        try Command.check("/bin/sh", ["-c", "echo 'start=16384, size=8192, type=83' | \(try ExecutableLookup.resolve("sfdisk")) -q --wipe never --label dos \(path)"])
        let layout = try DiskLayout.read(from: try FileBlockReader(path: path))
        #expect(layout.table == .mbr, "\(layout.warnings)")
        #expect(layout.partitions.first?.start == 16384 * 512)
        #expect(try GPTReader.hasHeader(try FileBlockReader(path: path)), "sfdisk wiped the GPT; the test proves nothing")
    }
}
