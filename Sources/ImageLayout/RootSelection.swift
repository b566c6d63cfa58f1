/// The filesystem to mount: a partition, the whole disk (number 0), or a linear LVM logical volume.
public struct Volume: Equatable, Sendable, CustomStringConvertible {
    /// The partition number, 0 for a filesystem on the whole disk, or `logicalVolumeNumbers` + n for the
    /// n-th linear LV (the number its block device is made under: a BLKPG partition on an nbd device).
    public let number: Int
    public let offset: UInt64
    public let size: UInt64
    public let filesystem: FilesystemInfo
    /// The fstype for mount(2).
    public let mountType: String
    public let source: ImageVolume.Source

    /// Above any partition number a GPT or MBR here has (128), below the kernel's 256 partitions per disk.
    public static let logicalVolumeNumbers = 200

    public init(number: Int, offset: UInt64, size: UInt64, filesystem: FilesystemInfo, mountType: String,
                source: ImageVolume.Source? = nil) {
        (self.number, self.offset, self.size, self.filesystem, self.mountType) = (number, offset, size, filesystem, mountType)
        self.source = source ?? (number == 0 ? .wholeDisk : .partition(number))
    }

    /// "partition 4 (xfs, label root)", "LVM volume vg0/root (ext4)".
    public var description: String {
        ImageVolume(source: source, offset: offset, size: size, filesystem: filesystem, partitionUUID: nil,
                    partitionLabel: nil).description
    }
}

extension DiskLayout {
    /// The volume to mount as root. `mountPartition` nil applies the default root rule:
    /// 1. the DPS root partition for the host architecture, if it holds a mountable filesystem;
    /// 2. else the DPS root partition of any other architecture (the image's, e.g. arm64 on an x86-64 host);
    /// 3. else the lowest-numbered partition holding a Linux filesystem (ext2/3/4, xfs, btrfs);
    /// 4. else a mountable filesystem on the whole disk.
    /// `mountPartition` 0 means the whole disk; any other number is that partition.
    public func volume(mountPartition: Int?) throws -> Volume {
        guard let number = mountPartition else {
            guard let number = defaultRootNumber else {
                throw LayoutError("no partition holds a Linux filesystem (\(inventory)); set mount_partition")
            }
            return try volume(mountPartition: number)
        }
        if number == 0 {
            guard let filesystem = wholeDiskFilesystem, let mountType = filesystem.mountType else {
                throw LayoutError("mount_partition 0 means a filesystem on the whole disk, but \(wholeDiskDescription); this disk has \(inventory)")
            }
            return Volume(number: 0, offset: 0, size: diskSize, filesystem: filesystem, mountType: mountType)
        }
        guard let partition = partitions.first(where: { $0.number == number }) else {
            throw LayoutError("mount_partition \(number) does not exist; this disk has \(inventory)")
        }
        guard let filesystem = partition.filesystem, let mountType = filesystem.mountType else {
            let what = partition.filesystem.flatMap { $0.type.refusal } ?? "no recognised filesystem"
            throw LayoutError("mount_partition \(number) holds \(what), not a mountable filesystem; this disk has \(inventory)")
        }
        return Volume(number: number, offset: partition.start, size: partition.size, filesystem: filesystem,
                      mountType: mountType)
    }

    /// The number the default root rule picks (0 = whole disk), or nil if nothing qualifies.
    public var defaultRootNumber: Int? {
        let mountable = partitions.filter { $0.filesystem?.isMountable == true }
        if let root = mountable.first(where: { $0.type.role == .root(Architecture.host) }) { return root.number }
        if let root = mountable.first(where: { $0.type.role?.isRoot == true }) { return root.number }
        if let linux = mountable.first(where: { $0.filesystem?.type.isLinuxRoot == true }) { return linux.number }
        if wholeDiskFilesystem?.isMountable == true { return 0 }
        return nil
    }

    /// "partitions 1 (vfat), 2 (swap), 3 (no filesystem)" — for error messages.
    var inventory: String {
        if partitions.isEmpty {
            return wholeDiskFilesystem.map { "no partition table and a whole-disk \($0.type.rawValue) filesystem" }
                ?? "no partition table and no filesystem"
        }
        let list = partitions.map { "\($0.number) (\($0.isExtendedContainer ? "extended" : $0.filesystem?.type.rawValue ?? "no filesystem"))" }
        return (partitions.count == 1 ? "partition " : "partitions ") + list.joined(separator: ", ")
    }

    private var wholeDiskDescription: String {
        if let filesystem = wholeDiskFilesystem { return "the whole disk holds \(filesystem.type.refusal ?? filesystem.type.rawValue)" }
        return table == .none ? "the disk holds no filesystem" : "the disk has a \(table.rawValue.uppercased()) partition table"
    }
}
