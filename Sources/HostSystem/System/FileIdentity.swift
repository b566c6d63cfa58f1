import CNBD
import Glibc

/// Which file a path names: device, inode, the inode's generation and birth time. The inode alone is not
/// enough, as a filesystem hands a removed file's inode number to the next one made (ext4 gives a re-created
/// directory the same number at once). The generation is new at each allocation of the number (ext4, xfs,
/// btrfs, tmpfs); the birth time, where the filesystem records it, follows the kernel's coarse clock, so it
/// alone cannot tell two files made within a few milliseconds.
public struct FileIdentity: Codable, Equatable, Sendable, CustomStringConvertible {
    public var device: UInt64
    public var inode: UInt64
    /// FS_IOC_GETVERSION; nil where the filesystem has none or the file cannot be opened.
    public var generation: UInt32?
    /// Nanoseconds since the epoch; nil where the filesystem keeps no birth time.
    public var birthTime: Int64?

    public init(device: UInt64, inode: UInt64, generation: UInt32?, birthTime: Int64?) {
        self.device = device
        self.inode = inode
        self.generation = generation
        self.birthTime = birthTime
    }

    /// The identity of `path` itself (a symlink is not followed). The corresponding calls are statx(2) and
    /// ioctl(FS_IOC_GETVERSION).
    public static func of(_ path: String) throws -> FileIdentity {
        var raw = cnbd_file_identity()
        try syscall("statx", path: path) { cnbd_statx_identity(path, &raw) }
        let birth = raw.has_birth_time != 0 ? raw.birth_seconds * 1_000_000_000 + Int64(raw.birth_nanoseconds) : nil
        return FileIdentity(device: raw.device, inode: raw.inode, generation: raw.has_generation != 0 ? raw.generation : nil,
                            birthTime: birth)
    }

    /// Whether `path` names this file still; false if it is gone or is another file.
    public func matches(_ path: String) -> Bool {
        (try? Self.of(path)) == self
    }

    public var description: String {
        "inode \(inode) on device \(device)" + (generation.map { ", generation \($0)" } ?? "")
            + (birthTime.map { ", born at \($0) ns" } ?? "")
    }
}
