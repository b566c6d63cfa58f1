/// Filesystems and other volume contents recognised by their superblock magic.
public enum FilesystemType: String, Sendable, CaseIterable {
    case ext2, ext3, ext4, xfs, btrfs, vfat, swap
    /// Recognised so we can say why they cannot be mounted directly.
    case luks = "crypto_LUKS", lvm2 = "LVM2_member", squashfs

    /// The fstype handed to mount(2), or nil when the content is not a mountable filesystem.
    public var mountType: String? {
        switch self {
        case .ext2, .ext3, .ext4: return "ext4"  // the ext4 driver mounts all three
        case .xfs, .btrfs, .vfat: return rawValue
        case .swap, .luks, .lvm2, .squashfs: return nil
        }
    }

    /// A Linux root filesystem can live on it (the default root rule looks for these).
    public var isLinuxRoot: Bool { [.ext2, .ext3, .ext4, .xfs, .btrfs].contains(self) }

    /// Why it is not mountable, for messages.
    public var refusal: String? {
        switch self {
        case .luks: return "LUKS-encrypted; unlock it first (not supported)"
        case .lvm2: return "an LVM2 physical volume; LVM is not supported"
        case .squashfs: return "read-only squashfs; cannot be provisioned"
        case .swap: return "swap space"
        default: return nil
        }
    }
}

/// What a probe found on a partition or a whole disk.
public struct FilesystemInfo: Equatable, Sendable {
    public let type: FilesystemType
    public let label: String?
    public let uuid: String?

    public var mountType: String? { type.mountType }
    public var isMountable: Bool { mountType != nil }
}

/// Reads the first 68 KiB of a volume and recognises it by magic, in the same order blkid prefers.
public enum FilesystemProbe {
    /// Enough to reach the btrfs superblock (64 KiB + label) and swap signatures of pages up to 64 KiB.
    static let probeLength = 69_632

    public static func probe(_ disk: BlockReader, offset: UInt64, size: UInt64) throws -> FilesystemInfo? {
        let count = Int(min(size, UInt64(probeLength)))
        guard count >= 512 else { return nil }
        return probe(try disk.read(at: offset, count: count))
    }

    /// Probes a volume's leading bytes.
    public static func probe(_ b: [UInt8]) -> FilesystemInfo? {
        if b.bytes(0, 6) == [0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE] {  // "LUKS\xba\xbe"
            return FilesystemInfo(type: .luks, label: nil, uuid: b.label(168, 40))
        }
        if b.matches("LABELONE", at: 512) && b.matches("LVM2 001", at: 536) {
            return FilesystemInfo(type: .lvm2, label: nil, uuid: nil)
        }
        if b.matches("hsqs", at: 0) { return FilesystemInfo(type: .squashfs, label: nil, uuid: nil) }
        if b.matches("XFSB", at: 0) {
            return FilesystemInfo(type: .xfs, label: b.label(108, 12), uuid: uuid(b, 32))
        }
        if b.le16(1080) == 0xEF53 { return ext(b) }
        if b.matches("_BHRfS_M", at: 65600) {
            return FilesystemInfo(type: .btrfs, label: b.label(65835, 256), uuid: uuid(b, 65568))
        }
        for page in [4096, 8192, 16384, 65536] where b.matches("SWAPSPACE2", at: page - 10) {
            return FilesystemInfo(type: .swap, label: b.label(1052, 16), uuid: uuid(b, 1036))
        }
        return vfat(b)
    }

    private static func ext(_ b: [UInt8]) -> FilesystemInfo? {
        let compat = b.le32(1116), incompat = b.le32(1120), roCompat = b.le32(1124)
        if incompat & 0x8 != 0 { return nil }  // an external journal device, not a filesystem
        // As blkid: features beyond what ext3 supports make it ext4; a journal without them makes it ext3.
        let type: FilesystemType
        if incompat & ~UInt32(0x2 | 0x4 | 0x10) != 0 || roCompat & ~UInt32(0x1 | 0x2 | 0x4) != 0 {
            type = .ext4
        } else if compat & 0x4 != 0 {
            type = .ext3
        } else {
            type = .ext2
        }
        return FilesystemInfo(type: type, label: b.label(1144, 16), uuid: uuid(b, 1128))
    }

    private static func vfat(_ b: [UInt8]) -> FilesystemInfo? {
        guard b.count >= 512, b[510] == 0x55, b[511] == 0xAA else { return nil }
        // Bytes per sector and sectors per cluster tell a FAT boot sector from an MBR with the same 55 AA.
        let bytesPerSector = b.le16(11), sectorsPerCluster = b[13]
        guard [512, 1024, 2048, 4096].contains(bytesPerSector), sectorsPerCluster != 0,
              sectorsPerCluster & (sectorsPerCluster - 1) == 0, b.le16(14) != 0, b[16] != 0 else { return nil }
        let labelOffset: Int, serialOffset: Int
        if b.matches("FAT32   ", at: 82) {
            (labelOffset, serialOffset) = (71, 67)
        } else if b.matches("FAT16   ", at: 54) || b.matches("FAT12   ", at: 54) {
            (labelOffset, serialOffset) = (43, 39)
        } else {
            return nil
        }
        let label = b.label(labelOffset, 11).flatMap { $0 == "NO NAME" ? nil : $0 }
        let serial = b.le32(serialOffset)
        return FilesystemInfo(type: .vfat, label: label, uuid: hex4(serial >> 16) + "-" + hex4(serial & 0xFFFF))
    }

    private static func uuid(_ b: [UInt8], _ offset: Int) -> String? {
        let raw = b.bytes(offset, 16)
        return raw.allSatisfy { $0 == 0 } ? nil : UUIDText.format(raw)
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
