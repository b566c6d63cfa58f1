import Glibc
import HostSystem

/// Grows a mounted filesystem to fill its (already grown) partition with the kernel's online-resize
/// ioctls, as resize2fs, xfs_growfs and `btrfs filesystem resize` do, without running them.
public enum FilesystemGrowth {
    // _IOW('f', 16, __u64)
    static let ext4ResizeFS: UInt = 0x4008_6610
    // _IOR('X', 100, struct xfs_fsop_geom_v1), 112 bytes
    static let xfsGeometryV1: UInt = 0x8070_5864
    // _IOW('X', 110, struct xfs_growfs_data { __u64 newblocks; __u32 imaxpct; }), 16 bytes
    static let xfsGrowData: UInt = 0x4010_586E
    // _IOW(0x94, 3, struct btrfs_ioctl_vol_args { __s64 fd; char name[4088]; }), 4096 bytes
    static let btrfsResize: UInt = 0x5000_9403

    /// Grows the filesystem mounted at `mountPath` to `bytes`; returns a sentence saying what was done.
    public static func grow(mountPath: String, fstype: String, to bytes: UInt64) throws -> String {
        let directory = try FileDescriptor.open(mountPath, O_RDONLY | O_DIRECTORY)
        defer { try? directory.close() }
        switch fstype {
        case "ext4", "ext3", "ext2":
            var info = statvfs()
            try syscall("statvfs", path: mountPath) { fstatvfs(directory.rawValue, &info) }
            var blocks = bytes / UInt64(info.f_bsize)
            if blocks <= UInt64(info.f_blocks) { return "ext4 already fills its partition" }
            do {
                _ = try directory.ioctl("EXT4_IOC_RESIZE_FS", ext4ResizeFS, pointer: &blocks)
            } catch let error as SystemError where error.errno == EPERM && !Capabilities.has(Capabilities.sysResource) {
                throw error.withHint("growing ext4 online needs CAP_SYS_RESOURCE, which this process lacks (containers often drop it); run where it has it, or leave out disk_size")
            }
            return "ext4 grown to \(blocks) blocks of \(info.f_bsize) bytes"
        case "xfs":
            var geometry = [UInt8](repeating: 0, count: 112)
            _ = try geometry.withUnsafeMutableBytes { try directory.ioctl("XFS_IOC_FSGEOMETRY_V1", xfsGeometryV1, pointer: $0.baseAddress) }
            let blockSize = geometry.withUnsafeBytes { $0.load(fromByteOffset: 0, as: UInt32.self) }
            let imaxpct = geometry.withUnsafeBytes { $0.load(fromByteOffset: 28, as: UInt32.self) }
            let current = geometry.withUnsafeBytes { $0.load(fromByteOffset: 32, as: UInt64.self) }
            let blocks = bytes / UInt64(blockSize)
            if blocks <= current { return "xfs already fills its partition" }
            var request = [UInt8](repeating: 0, count: 16)
            request.withUnsafeMutableBytes {
                $0.storeBytes(of: blocks, toByteOffset: 0, as: UInt64.self)
                $0.storeBytes(of: imaxpct, toByteOffset: 8, as: UInt32.self)
            }
            _ = try request.withUnsafeMutableBytes { try directory.ioctl("XFS_IOC_FSGROWFSDATA", xfsGrowData, pointer: $0.baseAddress) }
            return "xfs grown to \(blocks) blocks of \(blockSize) bytes"
        case "btrfs":
            var arguments = [UInt8](repeating: 0, count: 4096)
            Array("max".utf8).enumerated().forEach { arguments[8 + $0.offset] = $0.element }
            _ = try arguments.withUnsafeMutableBytes { try directory.ioctl("BTRFS_IOC_RESIZE", btrfsResize, pointer: $0.baseAddress) }
            return "btrfs grown to the size of its device"
        default:
            throw MountError("disk_size: cannot grow a \(fstype) filesystem online (ext4, xfs and btrfs can be grown)")
        }
    }
}
