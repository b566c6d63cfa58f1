/// One 16-byte MBR partition entry; CHS fields are ignored, as every modern tool does.
struct MBREntry: Equatable, Sendable {
    static let size = 16
    var bootFlag: UInt8
    var type: UInt8
    var startLBA: UInt32
    var sectors: UInt32

    var isEmpty: Bool { type == 0 || sectors == 0 }
    var isExtended: Bool { PartitionType(.mbr(type)).isExtendedContainer }

    static func decode(_ b: [UInt8], at offset: Int) -> MBREntry {
        MBREntry(bootFlag: b[offset], type: b[offset + 4], startLBA: b.le32(offset + 8), sectors: b.le32(offset + 12))
    }

    func encode(into b: inout [UInt8], at offset: Int) {
        b[offset] = bootFlag
        b.put([0xFE, 0xFF, 0xFF], at: offset + 1)  // CHS "beyond 1024 cylinders", as sfdisk writes for LBA
        b[offset + 4] = type
        b.put([0xFE, 0xFF, 0xFF], at: offset + 5)
        b.putLE32(startLBA, at: offset + 8)
        b.putLE32(sectors, at: offset + 12)
    }
}

/// A boot sector with the 55 AA signature and four plausible entries.
struct MBRBootSector: Sendable {
    static let sectorSize = 512
    static let entriesOffset = 446
    var bytes: [UInt8]
    var entries: [MBREntry]

    /// nil if the sector has no MBR signature or its boot flags are not 0x00/0x80 (then it is something else).
    init?(_ b: [UInt8]) {
        guard b.count >= 512, b[510] == 0x55, b[511] == 0xAA else { return nil }
        let entries = (0..<4).map { MBREntry.decode(b, at: MBRBootSector.entriesOffset + $0 * MBREntry.size) }
        guard entries.allSatisfy({ $0.bootFlag == 0 || $0.bootFlag == 0x80 }) else { return nil }
        self.bytes = Array(b[0..<512])
        self.entries = entries
    }

    var isProtective: Bool { entries.contains { $0.type == 0xEE } }
    var hasPartitions: Bool { entries.contains { !$0.isEmpty } }
}

/// A partition found through an MBR, numbered as Linux numbers it: slots 1–4, logicals from 5.
struct MBRPartition: Equatable, Sendable {
    let number: Int
    let entry: MBREntry
    /// Absolute first sector.
    let startLBA: UInt64
    /// Where the entry lives: 0 for primaries, the EBR's sector for logicals.
    let tableLBA: UInt64
    let slot: Int
}

/// Reads primaries and follows extended-partition chains with loop and bounds protection.
enum MBRReader {
    /// More logical partitions than any real disk has; a longer chain is treated as corrupt.
    static let maxLogicals = 128

    static func partitions(_ disk: BlockReader, _ boot: MBRBootSector) throws -> (partitions: [MBRPartition], warnings: [String]) {
        var found: [MBRPartition] = []
        var warnings: [String] = []
        var nextLogical = 5
        for (slot, entry) in boot.entries.enumerated() where !entry.isEmpty {
            found.append(MBRPartition(number: slot + 1, entry: entry, startLBA: UInt64(entry.startLBA), tableLBA: 0, slot: slot))
            if entry.isExtended {
                let logicals = try chain(disk, extended: entry, firstNumber: nextLogical, warnings: &warnings)
                found += logicals
                nextLogical += logicals.count
            }
        }
        return (found, warnings)
    }

    private static func chain(_ disk: BlockReader, extended: MBREntry, firstNumber: Int,
                              warnings: inout [String]) throws -> [MBRPartition] {
        let extendedStart = UInt64(extended.startLBA)
        let extendedEnd = extendedStart + UInt64(extended.sectors)
        let diskSectors = disk.size / UInt64(MBRBootSector.sectorSize)
        var logicals: [MBRPartition] = []
        var visited: Set<UInt64> = []
        var ebr = extendedStart
        while true {
            guard visited.insert(ebr).inserted else {
                warnings.append("the extended partition's chain loops back to sector \(ebr); stopped there")
                break
            }
            guard visited.count <= maxLogicals else {
                warnings.append("the extended partition's chain is longer than \(maxLogicals) links; stopped there")
                break
            }
            guard ebr >= extendedStart, ebr < extendedEnd, ebr < diskSectors else {
                warnings.append("an extended boot record at sector \(ebr) lies outside the extended partition or the disk; ignored")
                break
            }
            let sector = try disk.read(at: ebr * UInt64(MBRBootSector.sectorSize), count: MBRBootSector.sectorSize)
            guard sector[510] == 0x55, sector[511] == 0xAA else {
                warnings.append("the extended boot record at sector \(ebr) has no 55 AA signature; the chain ends there")
                break
            }
            let data = MBREntry.decode(sector, at: MBRBootSector.entriesOffset)
            let link = MBREntry.decode(sector, at: MBRBootSector.entriesOffset + MBREntry.size)
            if !data.isEmpty, !data.isExtended {
                logicals.append(MBRPartition(number: firstNumber + logicals.count, entry: data,
                                             startLBA: ebr + UInt64(data.startLBA), tableLBA: ebr, slot: 0))
            }
            guard link.isExtended, !link.isEmpty else { break }
            ebr = extendedStart + UInt64(link.startLBA)
        }
        return logicals
    }
}
