/// A disk's partition table, partitions and filesystems, read through any `BlockReader` with no kernel help.
public struct DiskLayout: Sendable {
    public let table: PartitionTableType
    /// The logical block size the table was found at (512 for MBR and for no table).
    public let sectorSize: Int
    public let diskSize: UInt64
    /// The primary GPT was damaged and the backup copy at the end of the disk was used.
    public let usedBackupGPT: Bool
    /// Problems that did not stop the read, one sentence each.
    public let warnings: [String]
    /// Sorted by number.
    public let partitions: [Partition]
    /// A filesystem written to the whole disk, when there is no partition table.
    public let wholeDiskFilesystem: FilesystemInfo?

    /// What the table parsers saw, kept for rewriting the table when the disk grows.
    let gpt: GPTTable?
    let bootSector: MBRBootSector?
    let mbrPartitions: [MBRPartition]?

    public static func read(from disk: BlockReader) throws -> DiskLayout {
        guard disk.size >= UInt64(MBRBootSector.sectorSize) else {
            throw LayoutError("the disk is \(disk.size) bytes, smaller than one 512-byte sector")
        }
        let boot = MBRBootSector(try disk.read(at: 0, count: MBRBootSector.sectorSize))
        // Linux reads a GPT only behind an MBR with a protective 0xEE entry (block/partitions/efi.c,
        // is_pmbr_valid); a GPT header left behind when a disk was repartitioned with an MBR is stale, and
        // the MBR is what the kernel, and so the booted system, uses.
        let mbrOnly = boot.map { $0.hasPartitions && !$0.isProtective } ?? false
        if !mbrOnly, let gpt = try GPTReader.read(disk, protectiveMBR: boot?.isProtective ?? false) {
            return try fromGPT(gpt, boot: boot, disk: disk)
        }
        let whole = try FilesystemProbe.probe(disk, offset: 0, size: disk.size)
        if let boot, boot.hasPartitions, whole?.type != .vfat {
            let stale = try mbrOnly && GPTReader.hasHeader(disk)
            return try fromMBR(boot, disk: disk, extraWarnings: stale ? [
                "the disk also holds a GPT header, but its MBR has no protective (0xEE) entry: like Linux, the MBR "
                    + "is used and the GPT ignored (a stale GPT: `sgdisk --zap` removes it, keeping the MBR)",
            ] : [])
        }
        if whole == nil, let boot {
            return try fromMBR(boot, disk: disk)
        }
        return DiskLayout(table: .none, sectorSize: 512, diskSize: disk.size, usedBackupGPT: false, warnings: [],
                          partitions: [], wholeDiskFilesystem: whole, gpt: nil, bootSector: nil, mbrPartitions: nil)
    }

    private static func fromGPT(_ gpt: GPTTable, boot: MBRBootSector?, disk: BlockReader) throws -> DiskLayout {
        let sectorSize = UInt64(gpt.sectorSize)
        var warnings = gpt.warnings
        if let boot, boot.entries.contains(where: { !$0.isEmpty && $0.type != 0xEE }) {
            warnings.append("the MBR is a hybrid with its own partitions; the GPT is used")
        }
        let partitions = gpt.entries.enumerated().filter { $0.element.isUsed }.map { index, entry in
            Partition(number: index + 1, start: entry.firstLBA * sectorSize,
                      size: (entry.lastLBA - entry.firstLBA + 1) * sectorSize, type: PartitionType(.gpt(entry.type)),
                      name: entry.name.isEmpty ? nil : entry.name, uuid: entry.uniqueGUID.description,
                      attributes: entry.attributes, filesystem: nil)
        }
        return DiskLayout(table: .gpt, sectorSize: gpt.sectorSize, diskSize: disk.size, usedBackupGPT: gpt.usedBackup,
                          warnings: warnings, partitions: try probed(partitions, disk), wholeDiskFilesystem: nil,
                          gpt: gpt, bootSector: boot, mbrPartitions: nil)
    }

    private static func fromMBR(_ boot: MBRBootSector, disk: BlockReader, extraWarnings: [String] = []) throws -> DiskLayout {
        let (found, tableWarnings) = try MBRReader.partitions(disk, boot)
        let warnings = extraWarnings + tableWarnings
        let signature = boot.bytes.le32(440)
        let partitions = found.map { part in
            Partition(number: part.number, start: part.startLBA * 512, size: UInt64(part.entry.sectors) * 512,
                      type: PartitionType(.mbr(part.entry.type)), name: nil,
                      uuid: signature == 0 ? nil : hex8(signature) + "-" + (part.number < 10 ? "0" : "") + "\(part.number)",
                      attributes: part.entry.bootFlag == 0x80 ? 0x4 : 0, filesystem: nil)
        }
        for partition in partitions where partition.end > disk.size {
            throw LayoutError("MBR partition \(partition.number) (bytes \(partition.start)…\(partition.end)) lies past the end of the disk (\(disk.size) bytes)")
        }
        let data = partitions.filter { !$0.isExtendedContainer }.sorted { $0.start < $1.start }
        for (a, b) in zip(data, data.dropFirst()) where b.start < a.end {
            throw LayoutError("MBR partitions \(a.number) and \(b.number) overlap")
        }
        return DiskLayout(table: .mbr, sectorSize: 512, diskSize: disk.size, usedBackupGPT: false, warnings: warnings,
                          partitions: try probed(partitions, disk), wholeDiskFilesystem: nil,
                          gpt: nil, bootSector: boot, mbrPartitions: found)
    }

    private static func probed(_ partitions: [Partition], _ disk: BlockReader) throws -> [Partition] {
        try partitions.sorted { $0.number < $1.number }.map { partition in
            guard !partition.isExtendedContainer else { return partition }
            return partition.with(filesystem: try FilesystemProbe.probe(disk, offset: partition.start, size: partition.size))
        }
    }

    private static func hex8(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
