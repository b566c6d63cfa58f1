/// CRC-32 as zlib and the UEFI GPT use it: reflected polynomial 0xEDB88320, initial and final XOR ~0.
public enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        return crc
    }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        update(0xFFFF_FFFF, bytes) ^ 0xFFFF_FFFF
    }

    /// The register after `bytes`, with no initial or final XOR: LVM2 seeds it with its own constant.
    static func update<C: Collection>(_ initial: UInt32, _ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc = initial
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc
    }
}
