/// A disk image for tests, described as data; `ImageFixtures.build` turns it into files (cached by spec).
public struct ImageSpec: Sendable, CustomStringConvertible {
    public enum Table: Sendable, Equatable {
        /// GPT written by sgdisk (512-byte sectors) or by `fdisk -b 4096`.
        case gpt(sectorSize: Int)
        /// MBR written by sfdisk; partitions numbered 5 and up are logical, inside the one type-5 partition.
        case mbr
        /// No table: `wholeDisk` is written to the whole image.
        case none
    }

    public enum Format: String, Sendable { case raw, qcow2 }

    public var table: Table
    public var diskMiB: Int
    public var partitions: [FixturePartition]
    public var wholeDisk: FixtureFilesystem?
    /// Files seeded into every ext4 filesystem (path relative to its root → contents), via `mkfs.ext4 -d`.
    public var files: [String: String]
    public var format: Format
    /// Flip a byte of the primary GPT header after building, so only the backup is valid.
    public var corruptPrimaryGPT: Bool

    public init(table: Table, diskMiB: Int, partitions: [FixturePartition] = [], wholeDisk: FixtureFilesystem? = nil,
                files: [String: String] = [:], format: Format = .raw, corruptPrimaryGPT: Bool = false) {
        (self.table, self.diskMiB, self.partitions, self.wholeDisk) = (table, diskMiB, partitions, wholeDisk)
        (self.files, self.format, self.corruptPrimaryGPT) = (files, format, corruptPrimaryGPT)
    }

    /// The same disk in another image format.
    public func formatted(_ format: Format) -> ImageSpec {
        var copy = self
        copy.format = format
        return copy
    }

    /// Stable text of every field: the cache key.
    public var description: String {
        let parts = partitions.map { "\($0)" }.joined(separator: ";")
        let seeded = files.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        return "\(table)|\(diskMiB)|\(parts)|\(wholeDisk.map { "\($0)" } ?? "-")|\(seeded)|\(format)|\(corruptPrimaryGPT)"
    }
}

/// A partition of a fixture. `type` is a GPT type GUID or an MBR type in hex ("83").
public struct FixturePartition: Sendable, CustomStringConvertible {
    public var number: Int
    public var startMiB: Int
    public var sizeMiB: Int
    public var type: String
    public var name: String
    public var filesystem: FixtureFilesystem?

    public init(_ number: Int, startMiB: Int, sizeMiB: Int, type: String, name: String = "", filesystem: FixtureFilesystem? = nil) {
        (self.number, self.startMiB, self.sizeMiB, self.type, self.name, self.filesystem) = (number, startMiB, sizeMiB, type, name, filesystem)
    }

    public var description: String { "\(number)@\(startMiB)+\(sizeMiB):\(type):\(name):\(filesystem.map { "\($0)" } ?? "-")" }
}

/// A filesystem made with the host's mkfs tools, with a label.
public enum FixtureFilesystem: Sendable, Equatable, CustomStringConvertible {
    case ext4(String), xfs(String), btrfs(String), vfat(String), swap(String)

    public var description: String {
        switch self {
        case .ext4(let l): return "ext4:\(l)"
        case .xfs(let l): return "xfs:\(l)"
        case .btrfs(let l): return "btrfs:\(l)"
        case .vfat(let l): return "vfat:\(l)"
        case .swap(let l): return "swap:\(l)"
        }
    }

    /// The program that makes it (for `Host.missing(programs:)`).
    public var tool: String {
        switch self {
        case .ext4: return "mkfs.ext4"
        case .xfs: return "mkfs.xfs"
        case .btrfs: return "mkfs.btrfs"
        case .vfat: return "mkfs.vfat"
        case .swap: return "mkswap"
        }
    }
}

/// GPT type GUIDs the fixtures use.
public enum FixtureType {
    public static let esp = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    public static let rootX86_64 = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
    public static let rootArm64 = "B921B045-1DF0-41C3-AF44-4C6F280D3FAE"
    public static let linux = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
    public static let swap = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
    public static let home = "933AC7E1-2EB4-4F13-B844-0E14E2AEF915"
}
