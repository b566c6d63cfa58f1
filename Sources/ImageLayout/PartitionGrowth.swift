extension DiskLayout {
    /// The writes that make the partition table fill a disk grown to `newDiskSize` bytes (after
    /// `qemu-img resize`): the GPT's backup moves to the new end and its last partition is extended;
    /// for MBR the last primary or logical partition is extended (with its extended container).
    /// The filesystem inside is not touched. Reading the layout before or after the resize both work.
    public func growLastPartition(newDiskSize: UInt64) throws -> [DiskWrite] {
        guard newDiskSize >= diskSize else {
            throw LayoutError("cannot shrink the disk from \(diskSize) to \(newDiskSize) bytes")
        }
        if let gpt { return try growGPT(gpt, newDiskSize: newDiskSize) }
        if let mbrPartitions { return try growMBR(mbrPartitions, newDiskSize: newDiskSize) }
        return []
    }

    private func growGPT(_ gpt: GPTTable, newDiskSize: UInt64) throws -> [DiskWrite] {
        let ss = gpt.sectorSize
        let newLast = newDiskSize / UInt64(ss) - 1
        let arraySectors = gpt.header.arraySectors(sectorSize: ss)
        // A table read from the backup is rebuilt with its primary array right after the primary header.
        let oldBackupLBA = gpt.usedBackup ? gpt.header.myLBA : gpt.header.alternateLBA
        var primary = gpt.usedBackup ? gpt.header.mirrored(arrayLBA: 2) : gpt.header
        primary.alternateLBA = newLast
        primary.lastUsableLBA = newLast - arraySectors - 1
        var array = gpt.rawArray
        let used = gpt.entries.enumerated().filter { $0.element.isUsed }
        if let (index, entry) = used.max(by: { $0.element.lastLBA < $1.element.lastLBA }),
           entry.lastLBA < primary.lastUsableLBA {
            array.putLE64(primary.lastUsableLBA, at: index * Int(gpt.header.entrySize) + 40)
        }
        primary.entryArrayCRC = CRC32.checksum(array)
        var writes = GPTWriter.tableWrites(primary: primary, array: array, sectorSize: ss)
        if let slot = bootSector?.entries.firstIndex(where: { $0.type == 0xEE }) {
            writes.append(sectorCountWrite(tableLBA: 0, slot: slot, sectors: min(newLast, UInt64(UInt32.max))))
        }
        // The old backup header would otherwise linger inside the grown partition and confuse probes.
        if oldBackupLBA != newLast, oldBackupLBA < newLast {
            writes.append(DiskWrite(offset: oldBackupLBA * UInt64(ss), bytes: [UInt8](repeating: 0, count: ss)))
        }
        return writes
    }

    /// Only the entry's 32-bit sector count changes, so boot code and CHS fields stay as they were.
    private func sectorCountWrite(tableLBA: UInt64, slot: Int, sectors: UInt64) -> DiskWrite {
        var field = [UInt8](repeating: 0, count: 4)
        field.putLE32(UInt32(sectors), at: 0)
        let offset = tableLBA * 512 + UInt64(MBRBootSector.entriesOffset + slot * MBREntry.size + 12)
        return DiskWrite(offset: offset, bytes: field)
    }

    private func growMBR(_ found: [MBRPartition], newDiskSize: UInt64) throws -> [DiskWrite] {
        let newSectors = newDiskSize / 512
        guard newSectors <= UInt64(UInt32.max) else {
            throw LayoutError("an MBR cannot address a disk of \(newDiskSize) bytes (limit 2 TiB); use GPT")
        }
        let data = found.filter { !$0.entry.isExtended }
        guard let last = data.max(by: { $0.startLBA + UInt64($0.entry.sectors) < $1.startLBA + UInt64($1.entry.sectors) })
        else { return [] }
        var writes: [DiskWrite] = []
        func rewrite(_ part: MBRPartition, sectors: UInt64) {
            writes.append(sectorCountWrite(tableLBA: part.tableLBA, slot: part.slot, sectors: sectors))
        }
        rewrite(last, sectors: newSectors - last.startLBA)
        if last.tableLBA != 0, let container = found.first(where: { $0.entry.isExtended && $0.tableLBA == 0 }) {
            rewrite(container, sectors: newSectors - container.startLBA)
        }
        return writes
    }
}
