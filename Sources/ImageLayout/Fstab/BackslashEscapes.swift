/// Backslash escapes of a fixed width, as fstab (`\040`) and udev link names (`\x2f`) write them.
enum BackslashEscapes {
    /// Replaces each backslash whose next `width` bytes `decode` accepts with the byte it returns; every other
    /// backslash stays as it is.
    static func decode(_ text: String, width: Int, _ decode: (ArraySlice<UInt8>) -> UInt8?) -> String {
        let bytes = Array(text.utf8)
        guard bytes.contains(UInt8(ascii: "\\")) else { return text }
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + width < bytes.count, let value = decode(bytes[i + 1...i + width]) {
                out.append(value)
                i += width + 1
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
