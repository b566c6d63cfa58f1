/// Little- and big-endian fields of on-disk structures. Every read is bounds-checked and yields 0 past the
/// end, because the bytes come from hostile images and a short buffer must never trap.
extension Array where Element == UInt8 {
    func le16(_ offset: Int) -> UInt16 { UInt16(truncatingIfNeeded: unsignedField(offset, 2, bigEndian: false)) }
    func le32(_ offset: Int) -> UInt32 { UInt32(truncatingIfNeeded: unsignedField(offset, 4, bigEndian: false)) }
    func le64(_ offset: Int) -> UInt64 { unsignedField(offset, 8, bigEndian: false) }
    func be32(_ offset: Int) -> UInt32 { UInt32(truncatingIfNeeded: unsignedField(offset, 4, bigEndian: true)) }
    func be64(_ offset: Int) -> UInt64 { unsignedField(offset, 8, bigEndian: true) }

    /// `count` bytes at `offset`, zero-filled where the buffer ends.
    func bytes(_ offset: Int, _ count: Int) -> [UInt8] {
        guard offset >= 0, count > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count, offset + i < self.count {
            out[i] = self[offset + i]
            i += 1
        }
        return out
    }

    /// Whether `text`'s ASCII bytes appear at `offset`.
    func matches(_ text: String, at offset: Int) -> Bool {
        let expected = Array(text.utf8)
        guard offset >= 0, offset + expected.count <= count else { return false }
        return self[offset..<offset + expected.count].elementsEqual(expected)
    }

    /// A NUL- or space-padded ASCII/UTF-8 label, trimmed; nil when empty.
    func label(_ offset: Int, _ count: Int) -> String? {
        var field = bytes(offset, count)
        if let nul = field.firstIndex(of: 0) { field.removeSubrange(nul...) }
        let text = String(decoding: field, as: UTF8.self).trimmingWhitespace()
        return text.isEmpty ? nil : text
    }

    mutating func putLE16(_ value: UInt16, at offset: Int) { putField(UInt64(value), offset, 2) }
    mutating func putLE32(_ value: UInt32, at offset: Int) { putField(UInt64(value), offset, 4) }
    mutating func putLE64(_ value: UInt64, at offset: Int) { putField(value, offset, 8) }

    mutating func put(_ bytes: [UInt8], at offset: Int) {
        replaceSubrange(offset..<offset + bytes.count, with: bytes)
    }

    private func unsignedField(_ offset: Int, _ width: Int, bigEndian: Bool) -> UInt64 {
        guard offset >= 0, offset <= count - width else { return 0 }
        var value: UInt64 = 0
        for i in 0..<width {
            let byte = UInt64(self[bigEndian ? offset + i : offset + width - 1 - i])
            value = value << 8 | byte
        }
        return value
    }

    private mutating func putField(_ value: UInt64, _ offset: Int, _ width: Int) {
        for i in 0..<width { self[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }
}
