/// A GPT read from a disk: the copy of the header that was used, all its entries, and what was wrong.
struct GPTTable: Sendable {
    let sectorSize: Int
    let header: GPTHeader
    /// Every slot of the entry array, used or not; slot i is partition i + 1.
    let entries: [GPTEntry]
    /// The entry array as read, so a rewrite keeps bytes this parser does not interpret.
    let rawArray: [UInt8]
    let usedBackup: Bool
    let warnings: [String]
}

/// Finds and validates a GPT. Image files have no logical block size, so the header is probed at 512- and
/// 4096-byte blocks; a damaged primary falls back to the backup at the last block.
enum GPTReader {
    static let sectorSizes = [512, 4096]

    /// nil when no GPT signature is found and the MBR does not claim one.
    static func read(_ disk: BlockReader, protectiveMBR: Bool) throws -> GPTTable? {
        var failures: [String] = []
        var damagedSizes: [Int] = []
        for sectorSize in sectorSizes {
            let sectors = disk.size / UInt64(sectorSize)
            guard sectors >= 4, try hasSignature(disk, lba: 1, sectorSize) else { continue }
            do {
                let (header, entries, raw) = try loadCopy(disk, lba: 1, sectorSize: sectorSize)
                try validate(entries, header, sectors: sectors)
                let warnings = try backupWarnings(disk, header, sectorSize: sectorSize)
                return GPTTable(sectorSize: sectorSize, header: header, entries: entries, rawArray: raw, usedBackup: false,
                                warnings: warnings)
            } catch let error as StructureError {
                failures.append("primary GPT header at LBA 1 (\(sectorSize)-byte sectors): \(error.reason)")
                damagedSizes.append(sectorSize)
            }
        }
        for sectorSize in sectorSizes where protectiveMBR || damagedSizes.contains(sectorSize) {
            let sectors = disk.size / UInt64(sectorSize)
            guard sectors >= 4, try hasSignature(disk, lba: sectors - 1, sectorSize) else { continue }
            do {
                let (header, entries, raw) = try loadCopy(disk, lba: sectors - 1, sectorSize: sectorSize)
                try validate(entries, header, sectors: sectors)
                let primary = failures.first ?? "primary GPT header at LBA 1 is missing"
                let warning = "\(primary); using the backup GPT at LBA \(sectors - 1)"
                return GPTTable(sectorSize: sectorSize, header: header, entries: entries, rawArray: raw, usedBackup: true,
                                warnings: [warning])
            } catch let error as StructureError {
                failures.append("backup GPT header at LBA \(sectors - 1) (\(sectorSize)-byte sectors): \(error.reason)")
            }
        }
        if failures.isEmpty {
            guard protectiveMBR else { return nil }
            throw LayoutError("the MBR is a GPT protective MBR but no GPT header was found at LBA 1 or at the end of the disk")
        }
        throw LayoutError("damaged GPT: " + failures.joined(separator: "; "))
    }

    /// Whether a GPT signature sits where either copy of the header would (LBA 1 or the last LBA, for
    /// either sector size), whatever its state.
    static func hasHeader(_ disk: BlockReader) throws -> Bool {
        for sectorSize in sectorSizes {
            let sectors = disk.size / UInt64(sectorSize)
            guard sectors >= 4 else { continue }
            if try hasSignature(disk, lba: 1, sectorSize) || hasSignature(disk, lba: sectors - 1, sectorSize) { return true }
        }
        return false
    }

    /// A copy that is unreadable or fails its checksums; the other copy may still be good.
    private struct StructureError: Error { let reason: String }

    private static func hasSignature(_ disk: BlockReader, lba: UInt64, _ sectorSize: Int) throws -> Bool {
        try disk.read(at: lba * UInt64(sectorSize), count: 8) == Array(GPTHeader.signature.utf8)
    }

    private static func loadCopy(_ disk: BlockReader, lba: UInt64, sectorSize: Int) throws -> (GPTHeader, [GPTEntry], [UInt8]) {
        let sectors = disk.size / UInt64(sectorSize)
        let header: GPTHeader
        do {
            let block = try disk.read(at: lba * UInt64(sectorSize), count: sectorSize)
            header = try GPTHeader.decode(block, lba: lba, sectorSize: sectorSize, sectors: sectors)
        } catch let error as LayoutError {
            throw StructureError(reason: error.message)
        }
        let array = try disk.read(at: header.entryArrayLBA * UInt64(sectorSize), count: header.arrayBytes)
        let crc = CRC32.checksum(array)
        guard crc == header.entryArrayCRC else {
            throw StructureError(reason: "partition entry array CRC32 mismatch (stored \(hex(header.entryArrayCRC)), computed \(hex(crc)))")
        }
        let size = Int(header.entrySize)
        let entries = (0..<Int(header.entryCount)).map { GPTEntry.decode(Array(array[$0 * size..<($0 + 1) * size])) }
        return (header, entries, array)
    }

    /// Entries that pass the checksums but make no sense are an error in both copies: no fallback.
    private static func validate(_ entries: [GPTEntry], _ header: GPTHeader, sectors: UInt64) throws {
        var used: [(number: Int, entry: GPTEntry)] = []
        for (index, entry) in entries.enumerated() where entry.isUsed {
            let number = index + 1, span = "LBA \(entry.firstLBA)…\(entry.lastLBA)"
            guard entry.firstLBA <= entry.lastLBA else {
                throw LayoutError("GPT partition \(number) ends before it starts (\(span))")
            }
            guard entry.lastLBA < sectors else {
                throw LayoutError("GPT partition \(number) (\(span)) lies past the end of the disk (\(sectors) sectors)")
            }
            guard entry.firstLBA >= header.firstUsableLBA, entry.lastLBA <= header.lastUsableLBA else {
                throw LayoutError("GPT partition \(number) (\(span)) is outside the usable area LBA \(header.firstUsableLBA)…\(header.lastUsableLBA)")
            }
            used.append((number, entry))
        }
        used.sort { $0.entry.firstLBA < $1.entry.firstLBA }
        for (a, b) in zip(used, used.dropFirst()) where b.entry.firstLBA <= a.entry.lastLBA {
            throw LayoutError("GPT partitions \(a.number) and \(b.number) overlap")
        }
    }

    private static func backupWarnings(_ disk: BlockReader, _ primary: GPTHeader, sectorSize: Int) throws -> [String] {
        let last = disk.size / UInt64(sectorSize) - 1
        guard primary.alternateLBA == last else {
            return ["the backup GPT is at LBA \(primary.alternateLBA), not at the end of the disk (LBA \(last)); the disk was resized"]
        }
        do {
            _ = try loadCopy(disk, lba: last, sectorSize: sectorSize)
            return []
        } catch let error as StructureError {
            return ["backup GPT at LBA \(last) is damaged (\(error.reason)); the primary is used"]
        }
    }
}
