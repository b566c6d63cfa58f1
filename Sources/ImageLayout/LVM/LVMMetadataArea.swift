/// An LVM2 metadata area: a 512-byte header (checksum, the " LVM2 x[5A%r0N*>" magic, version 1, its own
/// start and size, and raw locations) followed by a circular buffer holding the VG metadata as text
/// (lvm2 lib/format_text/layout.h, format-text.c).
public struct LVMMetadataArea: Equatable, Sendable {
    /// Where the current metadata text is in the buffer, relative to the area's start.
    public struct Location: Equatable, Sendable {
        public let offset: UInt64
        public let size: UInt64
        public let checksum: UInt32
        public let ignored: Bool
    }

    public let start: UInt64
    public let size: UInt64
    /// The first is the committed metadata; a second, if present, is a precommitted one.
    public let locations: [Location]

    static let headerSize = 512
    static let magic: [UInt8] = Array(" LVM2 x[5A%r0N*>".utf8)
    /// Far above the 1 MiB lvm2 writes by default, and low enough that a hostile size cannot exhaust memory.
    public static let maximumTextSize: UInt64 = 64 << 20

    /// `pvOffset` is where the PV starts on `disk`; `area` comes from the PV header.
    public static func read(_ disk: BlockReader, pvOffset: UInt64, area: LVMDiskArea) throws -> LVMMetadataArea {
        let (absolute, overflow) = pvOffset.addingReportingOverflow(area.offset)
        guard !overflow, absolute <= disk.size, disk.size - absolute >= UInt64(headerSize) else {
            throw LayoutError("the LVM metadata area at byte \(area.offset) of the PV lies outside the disk")
        }
        let h = try disk.read(at: absolute, count: headerSize)
        let stored = h.le32(0), computed = LVMPhysicalVolumeLabel.checksum(h[4..<headerSize])
        guard stored == computed else {
            throw LayoutError("the LVM metadata area header at byte \(area.offset) of the PV has a bad checksum (stored \(LVMPhysicalVolumeLabel.hex(stored)), computed \(LVMPhysicalVolumeLabel.hex(computed)))")
        }
        guard h.bytes(4, 16) == magic else {
            throw LayoutError("the LVM metadata area header at byte \(area.offset) of the PV lacks the LVM2 magic")
        }
        guard h.le32(20) == 1 else {
            throw LayoutError("the LVM metadata area at byte \(area.offset) of the PV has version \(h.le32(20)); only version 1 exists")
        }
        let start = h.le64(24), size = h.le64(32)
        guard start == area.offset else {
            throw LayoutError("the LVM metadata area at byte \(area.offset) of the PV says it starts at byte \(start)")
        }
        guard size > UInt64(headerSize), size <= disk.size - absolute, area.size == 0 || size <= area.size else {
            throw LayoutError("the LVM metadata area at byte \(area.offset) of the PV claims \(size) bytes, more than there is")
        }
        var locations: [Location] = []
        var position = 40
        while position + 24 <= headerSize {
            let offset = h.le64(position)
            if offset == 0 { break }
            locations.append(Location(offset: offset, size: h.le64(position + 8), checksum: h.le32(position + 16),
                                      ignored: h.le32(position + 20) & 1 != 0))
            position += 24
        }
        return LVMMetadataArea(start: start, size: size, locations: locations)
    }

    /// The committed metadata text, unwrapped from the circular buffer and checked against its checksum; nil
    /// when the area holds none (a PV of no VG, or an area lvm2 marked ignored).
    public func text(_ disk: BlockReader, pvOffset: UInt64) throws -> String? {
        guard let location = locations.first, !location.ignored, location.size > 0 else { return nil }
        let bufferSize = size - UInt64(Self.headerSize)
        guard location.offset >= UInt64(Self.headerSize), location.offset < size,
              location.size <= bufferSize, location.size <= Self.maximumTextSize else {
            throw LayoutError("the LVM metadata area at byte \(start) of the PV puts its text at \(location.offset)+\(location.size), outside its \(size)-byte buffer")
        }
        // The text may run past the end of the buffer and continue right after the header.
        let end = location.offset + location.size
        let wrap = end > size ? end - size : 0
        let base = pvOffset + start
        var bytes = try disk.read(at: base + location.offset, count: Int(location.size - wrap))
        if wrap > 0 { bytes += try disk.read(at: base + UInt64(Self.headerSize), count: Int(wrap)) }
        let computed = LVMPhysicalVolumeLabel.checksum(bytes)
        guard computed == location.checksum else {
            throw LayoutError("the LVM metadata text at byte \(start + location.offset) of the PV has a bad checksum (stored \(LVMPhysicalVolumeLabel.hex(location.checksum)), computed \(LVMPhysicalVolumeLabel.hex(computed)))")
        }
        if let nul = bytes.firstIndex(of: 0) { bytes.removeSubrange(nul...) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
