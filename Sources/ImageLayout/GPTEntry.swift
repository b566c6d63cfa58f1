/// One GPT partition entry (UEFI §5.3.3). LBAs are inclusive at both ends.
struct GPTEntry: Equatable, Sendable {
    var type: GUID
    var uniqueGUID: GUID
    var firstLBA: UInt64
    var lastLBA: UInt64
    var attributes: UInt64
    var name: String

    var isUsed: Bool { !type.isZero }

    static func decode(_ b: [UInt8]) -> GPTEntry {
        GPTEntry(type: GUID(onDisk: b.bytes(0, 16)), uniqueGUID: GUID(onDisk: b.bytes(16, 16)),
                 firstLBA: b.le64(32), lastLBA: b.le64(40), attributes: b.le64(48), name: utf16Name(b.bytes(56, 72)))
    }

    func encode(entrySize: Int) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: entrySize)
        b.put(type.bytes, at: 0)
        b.put(uniqueGUID.bytes, at: 16)
        b.putLE64(firstLBA, at: 32)
        b.putLE64(lastLBA, at: 40)
        b.putLE64(attributes, at: 48)
        for (i, unit) in name.utf16.prefix(36).enumerated() { b.putLE16(unit, at: 56 + 2 * i) }
        return b
    }

    /// The name field: UTF-16LE, NUL-terminated or filling all 36 code units; invalid units become U+FFFD.
    private static func utf16Name(_ b: [UInt8]) -> String {
        var units: [UInt16] = []
        for i in 0..<36 {
            let unit = b.le16(2 * i)
            if unit == 0 { break }
            units.append(unit)
        }
        return String(decoding: units, as: UTF16.self)
    }
}
