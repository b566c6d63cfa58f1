/// A partition for a fresh GPT. Offsets in bytes; `start` nil follows the previous partition (1 MiB aligned),
/// `size` nil fills the disk.
public struct GPTPartitionSpec: Sendable {
    public var type: GUID
    public var name: String
    public var uuid: GUID
    public var start: UInt64?
    public var size: UInt64?
    public var attributes: UInt64

    public init(type: GUID, name: String = "", uuid: GUID = .random(), start: UInt64? = nil, size: UInt64? = nil,
                attributes: UInt64 = 0) {
        (self.type, self.name, self.uuid, self.start, self.size, self.attributes) = (type, name, uuid, start, size, attributes)
    }
}

/// Writes GPTs: a fresh one (for `sample-image`) and the pieces every rewrite needs (also used by growth).
public enum GPTWriter {
    static let entryCount: UInt32 = 128
    static let entrySize: UInt32 = 128
    static let alignment: UInt64 = 1 << 20

    /// Protective MBR, primary header and array, backup array and header, for an empty disk of `diskSize`.
    public static func fresh(diskSize: UInt64, sectorSize: Int = 512, partitions: [GPTPartitionSpec],
                             diskGUID: GUID = .random()) throws -> [DiskWrite] {
        guard sectorSize == 512 || sectorSize == 4096 else { throw LayoutError("sector size \(sectorSize) is not 512 or 4096") }
        let ss = UInt64(sectorSize)
        let arraySectors = (UInt64(entryCount * entrySize) + ss - 1) / ss
        let sectors = diskSize / ss
        guard sectors > 2 * arraySectors + 3 + alignment / ss else {
            throw LayoutError("a disk of \(diskSize) bytes is too small for a GPT")
        }
        guard partitions.count <= Int(entryCount) else { throw LayoutError("a GPT holds at most \(entryCount) partitions") }
        let last = sectors - 1
        var header = GPTHeader(myLBA: 1, alternateLBA: last, firstUsableLBA: 2 + arraySectors,
                               lastUsableLBA: last - arraySectors - 1, diskGUID: diskGUID, entryArrayLBA: 2,
                               entryCount: entryCount, entrySize: entrySize, entryArrayCRC: 0)
        var array: [UInt8] = []
        var next = alignment / ss
        for (index, spec) in partitions.enumerated() {
            let first = spec.start.map { $0 / ss } ?? next
            let lastLBA = spec.size.map { first + $0 / ss - 1 } ?? header.lastUsableLBA
            guard first >= header.firstUsableLBA, first <= lastLBA, lastLBA <= header.lastUsableLBA else {
                throw LayoutError("partition \(index + 1) does not fit the usable area of a \(diskSize)-byte disk")
            }
            let entry = GPTEntry(type: spec.type, uniqueGUID: spec.uuid, firstLBA: first, lastLBA: lastLBA,
                                 attributes: spec.attributes, name: spec.name)
            array += entry.encode(entrySize: Int(entrySize))
            next = ((lastLBA + 1) * ss + alignment - 1) / alignment * alignment / ss
        }
        array += [UInt8](repeating: 0, count: Int(entryCount * entrySize) - array.count)
        header.entryArrayCRC = CRC32.checksum(array)
        return [protectiveMBR(existing: nil, sectors: sectors)] + tableWrites(primary: header, array: array, sectorSize: sectorSize)
    }

    /// Both copies of a table whose primary header is `primary` (its array CRC already set).
    static func tableWrites(primary: GPTHeader, array: [UInt8], sectorSize: Int) -> [DiskWrite] {
        let ss = UInt64(sectorSize)
        let backupArrayLBA = primary.alternateLBA - primary.arraySectors(sectorSize: sectorSize)
        let backup = primary.mirrored(arrayLBA: backupArrayLBA)
        return [
            DiskWrite(offset: primary.myLBA * ss, bytes: primary.encode(sectorSize: sectorSize)),
            DiskWrite(offset: primary.entryArrayLBA * ss, bytes: array),
            DiskWrite(offset: backupArrayLBA * ss, bytes: array),
            DiskWrite(offset: backup.myLBA * ss, bytes: backup.encode(sectorSize: sectorSize)),
        ]
    }

    /// Sector 0 with one 0xEE entry covering LBA 1 to the end (capped at 2^32 − 1), keeping any boot code.
    static func protectiveMBR(existing: [UInt8]?, sectors: UInt64) -> DiskWrite {
        var b = existing ?? [UInt8](repeating: 0, count: 512)
        b.replaceSubrange(446..<510, with: [UInt8](repeating: 0, count: 64))
        MBREntry(bootFlag: 0, type: 0xEE, startLBA: 1, sectors: UInt32(min(sectors - 1, UInt64(UInt32.max))))
            .encode(into: &b, at: 446)
        b[510] = 0x55
        b[511] = 0xAA
        return DiskWrite(offset: 0, bytes: b)
    }
}
