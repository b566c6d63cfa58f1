/// A volume of the image an fstab entry can name: the whole disk, a partition, or a linear LVM logical volume.
public struct ImageVolume: Equatable, Sendable, CustomStringConvertible {
    public enum Source: Equatable, Sendable {
        case wholeDisk
        case partition(Int)
        case logicalVolume(group: String, volume: String)
    }

    public let source: Source
    public let offset: UInt64
    public let size: UInt64
    public let filesystem: FilesystemInfo?
    /// GPT unique partition GUID, or the MBR "disksig-NN" form.
    public let partitionUUID: String?
    /// GPT partition name.
    public let partitionLabel: String?
    /// A logical volume's linear segments on the disk, in order (`offset` is the first's, `size` their sum);
    /// empty for a partition or the whole disk.
    public let pieces: [LVMDiskPiece]

    public init(source: Source, offset: UInt64, size: UInt64, filesystem: FilesystemInfo?, partitionUUID: String?,
                partitionLabel: String?, pieces: [LVMDiskPiece] = []) {
        (self.source, self.offset, self.size, self.filesystem) = (source, offset, size, filesystem)
        (self.partitionUUID, self.partitionLabel, self.pieces) = (partitionUUID, partitionLabel, pieces)
    }

    /// "partition 3 (xfs, label boot)", "LVM volume vg0/root (ext4)".
    public var description: String {
        let place: String
        switch source {
        case .wholeDisk: place = "the whole disk"
        case .partition(let number): place = "partition \(number)"
        case .logicalVolume(let group, let volume): place = "LVM volume \(group)/\(volume)"
        }
        guard let filesystem else { return "\(place) (no filesystem)" }
        return "\(place) (\(filesystem.type.rawValue)\(filesystem.label.map { ", label \($0)" } ?? ""))"
    }
}

/// An LVM logical volume the image has but that cannot be reached without device-mapper (or at all).
public struct UnsupportedLogicalVolume: Equatable, Sendable {
    public let group: String
    public let volume: String
    /// "thin", "raid1", "striped across 2 stripes", "3 segments", or the sentence that stopped it.
    public let kind: String
}

/// Every volume of one image, and the LVM volumes that cannot be mapped, for resolving fstab device names.
public struct ImageVolumes: Equatable, Sendable {
    public let volumes: [ImageVolume]
    public let lvm: LVMScan
    /// LVs that exist but cannot be mapped, with the kind that stops them ("thin", "raid1", …).
    public let unsupportedLogicalVolumes: [UnsupportedLogicalVolume]

    public init(volumes: [ImageVolume], lvm: LVMScan, unsupportedLogicalVolumes: [UnsupportedLogicalVolume] = []) {
        self.volumes = volumes
        self.lvm = lvm
        self.unsupportedLogicalVolumes = unsupportedLogicalVolumes
    }

    /// Partitions (or the whole-disk filesystem) and the linear LVs of the image's volume groups, each probed.
    /// An LV of several linear segments is listed only with `mapsSegments` (the host has device-mapper to join
    /// them); without it, it is one of the unsupported, with the reason.
    public static func read(_ layout: DiskLayout, disk: BlockReader, mapsSegments: Bool = false) throws -> ImageVolumes {
        var volumes: [ImageVolume] = []
        if layout.table == .none {
            volumes.append(ImageVolume(source: .wholeDisk, offset: 0, size: layout.diskSize,
                                       filesystem: layout.wholeDiskFilesystem, partitionUUID: nil, partitionLabel: nil))
        }
        for partition in layout.partitions where !partition.isExtendedContainer {
            volumes.append(ImageVolume(source: .partition(partition.number), offset: partition.start, size: partition.size,
                                       filesystem: partition.filesystem, partitionUUID: partition.uuid,
                                       partitionLabel: partition.name))
        }
        let lvm = LVMScan.scan(layout, disk: disk)
        var unsupported: [UnsupportedLogicalVolume] = []
        for group in lvm.volumeGroups {
            for volume in group.logicalVolumes {
                guard volume.linearSegment != nil || (volume.isLinear && mapsSegments) else {
                    let kind = volume.unsupportedKind ?? "unknown"
                    unsupported.append(UnsupportedLogicalVolume(group: group.name, volume: volume.name, kind: volume.isLinear
                        ? "\(kind), which needs device-mapper to join (this kernel has none)" : kind))
                    continue
                }
                do {
                    let pieces = try lvm.diskPieces(group: group, volume: volume)
                    let reader = LVMVolumeReader(disk: disk, pieces: pieces)
                    let filesystem = try FilesystemProbe.probe(reader, offset: 0, size: reader.size)
                    volumes.append(ImageVolume(source: .logicalVolume(group: group.name, volume: volume.name),
                                               offset: pieces[0].offset, size: reader.size, filesystem: filesystem,
                                               partitionUUID: nil, partitionLabel: nil, pieces: pieces))
                } catch {
                    unsupported.append(UnsupportedLogicalVolume(group: group.name, volume: volume.name, kind: "\(error)"))
                }
            }
        }
        return ImageVolumes(volumes: volumes, lvm: lvm, unsupportedLogicalVolumes: unsupported)
    }

    /// The linear pieces of the logical volume `source` names (empty for a partition or the whole disk).
    public func pieces(of source: ImageVolume.Source) -> [LVMDiskPiece] {
        volumes.first { $0.source == source }?.pieces ?? []
    }
}

extension ImageVolumes {
    /// `volume` as something to mount (nil without a mountable filesystem). Logical volumes are numbered
    /// `Volume.logicalVolumeNumbers` + 1, + 2, … in listing order, so every caller names the same LV alike.
    public func mountable(_ volume: ImageVolume) -> Volume? {
        guard let filesystem = volume.filesystem, let mountType = filesystem.mountType else { return nil }
        let number: Int
        switch volume.source {
        case .wholeDisk: number = 0
        case .partition(let partition): number = partition
        case .logicalVolume:
            let logical = volumes.filter { if case .logicalVolume = $0.source { return true } else { return false } }
            guard let index = logical.firstIndex(of: volume) else { return nil }
            number = Volume.logicalVolumeNumbers + 1 + index
        }
        return Volume(number: number, offset: volume.offset, size: volume.size, filesystem: filesystem,
                      mountType: mountType, source: volume.source)
    }
}
