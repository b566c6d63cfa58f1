/// A GUID as GPT stores it: 16 bytes whose first three fields are little-endian ("mixed-endian"), shown in
/// the usual lowercase 8-4-4-4-12 form.
public struct GUID: Hashable, Sendable, CustomStringConvertible {
    /// The on-disk byte order.
    public let bytes: [UInt8]

    public static let zero = GUID(onDisk: [UInt8](repeating: 0, count: 16))

    public init(onDisk bytes: [UInt8]) {
        precondition(bytes.count == 16, "a GUID has 16 bytes")
        self.bytes = bytes
    }

    /// Parses "4f68bce3-e8cd-4db1-96e7-fbcaf984b709" (any case); nil if malformed.
    public init?(_ text: String) {
        let hex = text.filter { $0 != "-" }
        guard hex.count == 32, text.count == 36 else { return nil }
        var canonical: [UInt8] = []
        var digits = hex.makeIterator()
        while let high = digits.next(), let low = digits.next() {
            guard let byte = UInt8(String([high, low]), radix: 16) else { return nil }
            canonical.append(byte)
        }
        self.bytes = GUID.swapFields(canonical)
    }

    /// A random version-4 GUID.
    public static func random() -> GUID {
        var canonical = (0..<16).map { _ in UInt8.random(in: 0...255) }
        canonical[6] = canonical[6] & 0x0F | 0x40
        canonical[8] = canonical[8] & 0x3F | 0x80
        return GUID(onDisk: swapFields(canonical))
    }

    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    public var description: String { UUIDText.format(GUID.swapFields(bytes)) }

    /// Converts between the on-disk order and the canonical (big-endian) order; its own inverse.
    private static func swapFields(_ b: [UInt8]) -> [UInt8] {
        [b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]] + b[8..<16]
    }
}

/// The 8-4-4-4-12 text of 16 bytes in canonical order (as filesystems store their UUIDs).
enum UUIDText {
    static func format(_ canonical: [UInt8]) -> String {
        let hex = canonical.map { byte -> String in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
    }
}
