/// Why an fstab entry's device cannot be tied to a volume of this image, in one sentence naming the entry.
public struct DeviceResolutionError: Error, Equatable, Sendable, CustomStringConvertible {
    public let entry: FstabEntry?
    public let spec: String
    public let message: String

    public var description: String {
        (entry.map { "\($0.title): " } ?? "\(spec): ") + message
    }
}

/// An fstab entry tied to the image volume it names, with the type to mount it as.
public struct ResolvedMount: Equatable, Sendable {
    public let planned: PlannedMount
    public let volume: ImageVolume
    /// The fstype for mount(2), from the probe, checked against the types fstab allows.
    public let mountType: String
}

extension ImageVolumes {
    /// The volume of THIS image that `spec` names; never a host device. `root` answers for /dev/root.
    public func resolve(_ spec: String, entry: FstabEntry? = nil, root: ImageVolume? = nil) -> Result<ImageVolume, DeviceResolutionError> {
        func fail(_ message: String) -> Result<ImageVolume, DeviceResolutionError> {
            .failure(DeviceResolutionError(entry: entry, spec: spec, message: message))
        }
        func unique(_ what: String, _ matches: [ImageVolume]) -> Result<ImageVolume, DeviceResolutionError> {
            switch matches.count {
            case 1: return .success(matches[0])
            case 0: return fail("the image has no volume with \(what); it has \(inventory)")
            default: return fail("\(what) is ambiguous: \(matches.map(\.description).joined(separator: " and ")) both have it")
            }
        }
        switch DeviceSpec(spec) {
        case .uuid(let uuid):
            // Case-insensitive: lowercase is the usual form, FAT and NTFS serials are uppercase.
            return unique("filesystem UUID \(uuid)", volumes.filter { $0.filesystem?.uuid?.lowercased() == uuid.lowercased() })
        case .label(let label):
            return unique("filesystem label \(label)", volumes.filter { $0.filesystem?.label == label })
        case .partUUID(let uuid):
            return unique("partition UUID \(uuid)", volumes.filter { $0.partitionUUID?.lowercased() == uuid.lowercased() })
        case .partLabel(let label):
            return unique("partition name \(label)", volumes.filter { $0.partitionLabel == label })
        case .partition(let disk, let number):
            guard DeviceSpec.imageDiskNames.contains(disk) else {
                return fail("\(disk) is not the image's disk: an image is one disk, which boots as \(DeviceSpec.imageDiskNames.joined(separator: ", ")); \(disk) would be another one")
            }
            if number == 0 {
                return unique("a filesystem on the whole disk", volumes.filter { $0.source == .wholeDisk })
            }
            return unique("partition number \(number)", volumes.filter { $0.source == .partition(number) })
        case .logicalVolume(let group, let volume):
            if let match = volumes.first(where: { $0.source == .logicalVolume(group: group, volume: volume) }) {
                return .success(match)
            }
            if let unsupported = unsupportedLogicalVolumes.first(where: { $0.group == group && $0.volume == volume }) {
                return fail("LVM volume \(group)/\(volume) is of unsupported kind \(unsupported.kind); only linear LVs are "
                    + "mapped: one segment through a loop device or partition, several through device-mapper")
            }
            if let vg = lvm.volumeGroup(group) {
                return fail("LVM volume group \(group) has no logical volume \(volume); it has \(vg.logicalVolumes.map(\.name).joined(separator: ", "))")
            }
            let groups = lvm.volumeGroups.map(\.name)
            return fail("the image has no LVM volume group \(group)" + (groups.isEmpty ? "" : "; it has \(groups.joined(separator: ", "))"))
        case .kernelRoot:
            guard let root else { return fail("/dev/root means the booted root, which is not chosen yet") }
            return .success(root)
        case .unknown(let why):
            return fail(why)
        }
    }

    /// Resolves a planned mount and checks that the volume holds a filesystem of a type fstab allows.
    public func resolve(_ mount: PlannedMount, root: ImageVolume? = nil) -> Result<ResolvedMount, DeviceResolutionError> {
        let entry = mount.entry
        return resolve(entry.spec, entry: entry, root: root).flatMap { volume in
            func fail(_ message: String) -> Result<ResolvedMount, DeviceResolutionError> {
                .failure(DeviceResolutionError(entry: entry, spec: entry.spec, message: message))
            }
            guard let filesystem = volume.filesystem, let mountType = filesystem.mountType else {
                let what = volume.filesystem.flatMap { $0.type.refusal } ?? "no recognised filesystem"
                return fail("\(volume) holds \(what)")
            }
            let ext: Set<String> = ["ext2", "ext3", "ext4"]
            let allowed = mount.types.contains("auto") || mount.types.contains(filesystem.type.rawValue)
                || mount.types.contains(mountType)
                || (ext.contains(filesystem.type.rawValue) && !ext.isDisjoint(with: mount.types))
                || (filesystem.type == .vfat && !Set(["msdos", "fat"]).isDisjoint(with: mount.types))
            guard allowed else {
                return fail("fstab says \(mount.types.joined(separator: ",")) but \(volume) holds \(filesystem.type.rawValue)")
            }
            return .success(ResolvedMount(planned: mount, volume: volume, mountType: mountType))
        }
    }

    /// "partitions 1 (ext4, label root), 15 (vfat) and LVM volume vg0/root (ext4)".
    var inventory: String {
        volumes.isEmpty ? "no volumes" : volumes.map(\.description).joined(separator: ", ")
    }
}
