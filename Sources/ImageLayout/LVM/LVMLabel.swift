/// A byte range of a physical volume, from the start of the PV; size 0 means "to the end of the device".
public struct LVMDiskArea: Equatable, Sendable {
    public let offset: UInt64
    public let size: UInt64
}

/// The LVM2 physical-volume label: a "LABELONE" sector in the first four, followed by the PV header with the
/// PV's UUID, its size and where its data and metadata areas are (lvm2 lib/label/label.h, format_text/layout.h).
public struct LVMPhysicalVolumeLabel: Equatable, Sendable {
    /// lvm2 writes the label in sector 1; it may be in any of sectors 0…3.
    public let sector: Int
    /// The PV UUID as lvm2 prints it (6-4-4-4-4-4-6).
    public let uuid: String
    public let deviceSize: UInt64
    /// Normally one: the extents, starting at pe_start.
    public let dataAreas: [LVMDiskArea]
    /// Zero, one or two metadata areas (at the start and at the end of the PV).
    public let metadataAreas: [LVMDiskArea]

    static let sectorSize = 512
    static let scanSectors = 4
    /// lvm2's CRC seed (lib/misc/crc.h), used for the label, the metadata-area header and the metadata text.
    static let checksumSeed: UInt32 = 0xF597_A6CF

    static func checksum<C: Collection>(_ bytes: C, continuing crc: UInt32 = checksumSeed) -> UInt32 where C.Element == UInt8 {
        CRC32.update(crc, bytes)
    }

    /// nil when no LVM2 label is there; throws when one is there but damaged.
    public static func read(_ disk: BlockReader, offset: UInt64, size: UInt64) throws -> LVMPhysicalVolumeLabel? {
        let length = Int(min(size, UInt64(scanSectors * sectorSize)))
        guard length >= sectorSize else { return nil }
        let head = try disk.read(at: offset, count: length)
        for sector in 0..<length / sectorSize {
            let bytes = Array(head[sector * sectorSize..<(sector + 1) * sectorSize])
            guard bytes.matches("LABELONE", at: 0) else { continue }
            return try parse(bytes, sector: sector)
        }
        return nil
    }

    static func parse(_ s: [UInt8], sector: Int) throws -> LVMPhysicalVolumeLabel {
        guard s.le64(8) == UInt64(sector) else {
            throw LayoutError("the LVM label in sector \(sector) says it belongs in sector \(s.le64(8))")
        }
        let stored = s.le32(16), computed = checksum(s[20..<sectorSize])
        guard stored == computed else {
            throw LayoutError("the LVM label in sector \(sector) has a bad checksum (stored \(hex(stored)), computed \(hex(computed)))")
        }
        guard s.matches("LVM2 001", at: 24) else {
            throw LayoutError("the label in sector \(sector) is of type '\(s.label(24, 8) ?? "")', not LVM2 001")
        }
        let headerOffset = Int(s.le32(20))
        guard headerOffset >= 32, headerOffset + 40 <= sectorSize else {
            throw LayoutError("the LVM label in sector \(sector) puts its PV header at byte \(headerOffset), outside the sector")
        }
        let uuidBytes = s.bytes(headerOffset, 32)
        guard uuidBytes.allSatisfy({ $0 >= 0x21 && $0 < 0x7F }) else {
            throw LayoutError("the LVM PV header in sector \(sector) has a UUID that is not printable text")
        }
        var position = headerOffset + 40
        func areas(_ what: String) throws -> [LVMDiskArea] {
            var list: [LVMDiskArea] = []
            while true {
                guard position + 16 <= sectorSize else {
                    throw LayoutError("the LVM PV header in sector \(sector) has a \(what) list that runs past the sector")
                }
                let area = LVMDiskArea(offset: s.le64(position), size: s.le64(position + 8))
                position += 16
                if area.offset == 0 { return list }
                list.append(area)
            }
        }
        let data = try areas("data area"), metadata = try areas("metadata area")
        return LVMPhysicalVolumeLabel(sector: sector, uuid: formatUUID(uuidBytes), deviceSize: s.le64(headerOffset + 32),
                                      dataAreas: data, metadataAreas: metadata)
    }

    /// lvm2 stores 32 characters and prints them in groups of 6-4-4-4-4-4-6.
    static func formatUUID(_ bytes: [UInt8]) -> String {
        var text = "", index = 0
        for (n, group) in [6, 4, 4, 4, 4, 4, 6].enumerated() {
            if n > 0 { text += "-" }
            text += String(decoding: bytes[index..<index + group], as: UTF8.self)
            index += group
        }
        return text
    }

    static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
}
