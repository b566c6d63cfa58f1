/// A physical volume found on the image: where it is, and its label.
public struct LVMFoundPhysicalVolume: Equatable, Sendable {
    /// The partition it fills (0: the whole disk).
    public let partitionNumber: Int
    public let offset: UInt64
    public let size: UInt64
    public let label: LVMPhysicalVolumeLabel
}

/// The LVM volume groups of an image, read from its PVs' labels and metadata areas with no lvm2 tools and no
/// device-mapper. Damage is reported as warnings so the rest of the image stays usable.
public struct LVMScan: Equatable, Sendable {
    public let physicalVolumes: [LVMFoundPhysicalVolume]
    public let volumeGroups: [LVMVolumeGroup]
    public let warnings: [String]

    public static func scan(_ layout: DiskLayout, disk: BlockReader) -> LVMScan {
        var candidates: [(Int, UInt64, UInt64)] = layout.partitions
            .filter { !$0.isExtendedContainer && ($0.filesystem == nil || $0.filesystem?.type == .lvm2) }
            .map { ($0.number, $0.start, $0.size) }
        if layout.table == .none, layout.wholeDiskFilesystem?.type == .lvm2 { candidates = [(0, 0, layout.diskSize)] }
        var found: [LVMFoundPhysicalVolume] = [], warnings: [String] = []
        var groups: [String: LVMVolumeGroup] = [:], order: [String] = []
        for (number, offset, size) in candidates {
            let place = number == 0 ? "the whole disk" : "partition \(number)"
            do {
                guard let label = try LVMPhysicalVolumeLabel.read(disk, offset: offset, size: size) else { continue }
                found.append(LVMFoundPhysicalVolume(partitionNumber: number, offset: offset, size: size, label: label))
                guard let group = try readGroup(disk, offset: offset, label: label, place: place, warnings: &warnings) else { continue }
                if let known = groups[group.id] {
                    if group.seqno > known.seqno { groups[group.id] = group }
                } else {
                    groups[group.id] = group
                    order.append(group.id)
                }
            } catch {
                warnings.append("LVM on \(place): \(error)")
            }
        }
        return LVMScan(physicalVolumes: found, volumeGroups: order.compactMap { groups[$0] }, warnings: warnings)
    }

    /// The first metadata area that reads cleanly; a damaged one is a warning when another copy is good.
    private static func readGroup(_ disk: BlockReader, offset: UInt64, label: LVMPhysicalVolumeLabel, place: String,
                                  warnings: inout [String]) throws -> LVMVolumeGroup? {
        var firstError: Error?
        for area in label.metadataAreas {
            do {
                let metadata = try LVMMetadataArea.read(disk, pvOffset: offset, area: area)
                guard let text = try metadata.text(disk, pvOffset: offset) else { continue }
                let group = try LVMVolumeGroup(metadata: text)
                if let firstError { warnings.append("LVM on \(place): \(firstError); another metadata copy was used") }
                return group
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
        return nil
    }

    public func volumeGroup(_ name: String) -> LVMVolumeGroup? { volumeGroups.first { $0.name == name } }

    /// Where a single-segment linear LV's bytes are on the disk; throws a sentence for every other kind and for
    /// a PV that is not on this image.
    public func diskRange(group: LVMVolumeGroup, volume: LVMLogicalVolume) throws -> (offset: UInt64, size: UInt64, partition: Int) {
        let piece = try diskPiece(group: group, volume: volume, range: try group.extentRange(of: volume))
        return (piece.offset, piece.size, piece.partition)
    }

    /// Where each segment of a linear LV (one or several) lies on the disk, in the LV's order.
    public func diskPieces(group: LVMVolumeGroup, volume: LVMLogicalVolume) throws -> [LVMDiskPiece] {
        try group.linearPieces(of: volume).map { try diskPiece(group: group, volume: volume, range: $0) }
    }

    private func diskPiece(group: LVMVolumeGroup, volume: LVMLogicalVolume, range: LVMExtentRange) throws -> LVMDiskPiece {
        guard let pv = physicalVolumes.first(where: { $0.label.uuid == range.pv.id }) else {
            throw LayoutError("LVM logical volume \(group.name)/\(volume.name) lies on PV \(range.pv.id), which is not on this image")
        }
        guard range.offset <= pv.size, range.size <= pv.size - range.offset else {
            throw LayoutError("LVM logical volume \(group.name)/\(volume.name) ends past the end of its PV (partition \(pv.partitionNumber))")
        }
        return LVMDiskPiece(offset: pv.offset + range.offset, size: range.size, partition: pv.partitionNumber)
    }
}

/// One linear segment of a logical volume, as a byte range of the disk and the partition (0: whole disk) of the
/// PV it lies in.
public struct LVMDiskPiece: Equatable, Sendable {
    public let offset: UInt64
    public let size: UInt64
    public let partition: Int
}
