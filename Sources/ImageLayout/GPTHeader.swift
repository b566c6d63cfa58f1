/// The GPT header (UEFI §5.3.2) as stored in one logical block, primary at LBA 1 and backup at the last LBA.
struct GPTHeader: Equatable, Sendable {
    static let signature = "EFI PART"
    static let revision: UInt32 = 0x0001_0000
    static let encodedSize = 92
    /// Arrays larger than this are not plausible (the usual one is 16 KiB) and would cost unbounded reads.
    static let maxArrayBytes = 1 << 20

    var myLBA: UInt64
    var alternateLBA: UInt64
    var firstUsableLBA: UInt64
    var lastUsableLBA: UInt64
    var diskGUID: GUID
    var entryArrayLBA: UInt64
    var entryCount: UInt32
    var entrySize: UInt32
    var entryArrayCRC: UInt32

    var arrayBytes: Int { Int(entryCount) * Int(entrySize) }

    func arraySectors(sectorSize: Int) -> UInt64 { UInt64((arrayBytes + sectorSize - 1) / sectorSize) }

    /// Parses and validates the header read at `lba` of a disk with `sectors` logical blocks.
    static func decode(_ b: [UInt8], lba: UInt64, sectorSize: Int, sectors: UInt64) throws -> GPTHeader {
        guard b.matches(signature, at: 0) else { throw LayoutError("no \"EFI PART\" signature") }
        let headerSize = Int(b.le32(12))
        guard headerSize >= encodedSize, headerSize <= sectorSize else {
            throw LayoutError("header size \(headerSize) is outside 92…\(sectorSize)")
        }
        var zeroed = Array(b[0..<headerSize])
        zeroed.putLE32(0, at: 16)
        let stored = b.le32(16), computed = CRC32.checksum(zeroed)
        guard stored == computed else {
            throw LayoutError("header CRC32 mismatch (stored \(hex(stored)), computed \(hex(computed)))")
        }
        let header = GPTHeader(
            myLBA: b.le64(24), alternateLBA: b.le64(32), firstUsableLBA: b.le64(40), lastUsableLBA: b.le64(48),
            diskGUID: GUID(onDisk: b.bytes(56, 16)), entryArrayLBA: b.le64(72), entryCount: b.le32(80),
            entrySize: b.le32(84), entryArrayCRC: b.le32(88))
        try header.validate(lba: lba, sectorSize: sectorSize, sectors: sectors)
        return header
    }

    private func validate(lba: UInt64, sectorSize: Int, sectors: UInt64) throws {
        guard myLBA == lba else { throw LayoutError("header at LBA \(lba) says it is at LBA \(myLBA)") }
        guard entrySize >= 128, entrySize % 8 == 0, entrySize <= 4096 else {
            throw LayoutError("partition entry size \(entrySize) is not a multiple of 8 in 128…4096")
        }
        guard entryCount <= 65536, arrayBytes <= GPTHeader.maxArrayBytes else {
            throw LayoutError("partition entry array of \(entryCount)×\(entrySize) bytes exceeds 1 MiB")
        }
        let last = sectors - 1
        guard lastUsableLBA < last else {
            throw LayoutError("its usable area ends at LBA \(lastUsableLBA) but the disk has only \(sectors) sectors (a truncated image?)")
        }
        guard firstUsableLBA <= lastUsableLBA, firstUsableLBA >= 2 else {
            throw LayoutError("usable area LBA \(firstUsableLBA)…\(lastUsableLBA) does not fit a disk of \(sectors) sectors")
        }
        let arrayEnd = entryArrayLBA.addingReportingOverflow(arraySectors(sectorSize: sectorSize))
        let outsideUsable = arrayEnd.partialValue <= firstUsableLBA || entryArrayLBA > lastUsableLBA
        guard entryArrayLBA >= 2, !arrayEnd.overflow, arrayEnd.partialValue <= last, outsideUsable else {
            throw LayoutError("partition entry array at LBA \(entryArrayLBA) is outside the disk or inside the usable area")
        }
    }

    /// The header block, with HeaderSize 92 and a fresh header CRC.
    func encode(sectorSize: Int) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: sectorSize)
        b.put(Array(GPTHeader.signature.utf8), at: 0)
        b.putLE32(GPTHeader.revision, at: 8)
        b.putLE32(UInt32(GPTHeader.encodedSize), at: 12)
        b.putLE64(myLBA, at: 24)
        b.putLE64(alternateLBA, at: 32)
        b.putLE64(firstUsableLBA, at: 40)
        b.putLE64(lastUsableLBA, at: 48)
        b.put(diskGUID.bytes, at: 56)
        b.putLE64(entryArrayLBA, at: 72)
        b.putLE32(entryCount, at: 80)
        b.putLE32(entrySize, at: 84)
        b.putLE32(entryArrayCRC, at: 88)
        b.putLE32(CRC32.checksum(b[0..<GPTHeader.encodedSize]), at: 16)
        return b
    }

    /// The same table described from the other copy's point of view (primary ↔ backup).
    func mirrored(arrayLBA: UInt64) -> GPTHeader {
        var other = self
        other.myLBA = alternateLBA
        other.alternateLBA = myLBA
        other.entryArrayLBA = arrayLBA
        return other
    }
}

func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
