/// An fstab entry the image's boot would mount: a local block filesystem, with its options sorted into what
/// mount(2) takes and what only userspace reads.
public struct PlannedMount: Equatable, Sendable {
    public let entry: FstabEntry
    /// Absolute, without repeated or trailing slashes.
    public let mountPoint: String
    /// The types fstab allows ("auto" lets the probe decide).
    public let types: [String]
    /// What mount(2) gets, in fstab order (later options win): VFS flags and filesystem options.
    public let mountOptions: [String]
    /// The filesystem-specific part of `mountOptions` (its data string).
    public let filesystemOptions: [String]
    public let droppedOptions: [DroppedFstabOption]
    /// `nofail`: the boot goes on when it cannot be mounted, so a failure only warns.
    public let nofail: Bool
    /// `x-systemd.automount`: mounted on first access, even with `noauto`.
    public let automount: Bool
    public let reason: String

    public var isRoot: Bool { mountPoint == "/" }
    /// btrfs `subvol=` (a path inside the filesystem), if given.
    public var subvolume: String? { lastValue("subvol") }
    /// btrfs `subvolid=`, if given.
    public var subvolumeID: String? { lastValue("subvolid") }

    private func lastValue(_ name: String) -> String? {
        filesystemOptions.last { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
    }
}

/// Why an fstab entry is not part of the plan.
public enum LeftOutKind: String, Equatable, Sendable {
    case swap, network, pseudo, bind, noauto, notABlockDevice, invalidMountPoint, duplicateMountPoint
    /// Mounted at boot in a way we do not reproduce (X-mount.subdir=): the caller should refuse, not ignore.
    case unsupported
}

public struct LeftOutEntry: Equatable, Sendable {
    public let entry: FstabEntry
    public let kind: LeftOutKind
    public let reason: String
}

/// The local block filesystems an image's fstab mounts at boot, parents first, and the entries it leaves out.
public struct FstabMountPlan: Equatable, Sendable {
    /// Sorted so that every mount point comes after the mount points above it ("/" first); fstab order
    /// otherwise.
    public let mounts: [PlannedMount]
    public let leftOut: [LeftOutEntry]
    /// Lines of the file that could not be read.
    public let problems: [FstabLineProblem]

    public init(_ table: FstabTable) {
        var mounts: [PlannedMount] = []
        var leftOut: [LeftOutEntry] = []
        var seen: [String: FstabEntry] = [:]
        for entry in table.entries {
            switch FstabMountPlan.decide(entry) {
            case .leftOut(let out):
                leftOut.append(out)
            case .mount(let mount):
                if let first = seen[mount.mountPoint] {
                    // systemd's fstab generator keeps the first entry for a mount point and warns about the rest.
                    leftOut.append(LeftOutEntry(entry: entry, kind: .duplicateMountPoint,
                                                reason: "\(mount.mountPoint) is already mounted by fstab line \(first.line); systemd keeps the first entry"))
                } else {
                    seen[mount.mountPoint] = entry
                    mounts.append(mount)
                }
            }
        }
        self.mounts = mounts.enumerated().sorted { a, b in
            let (da, db) = (FstabMountPlan.depth(a.element.mountPoint), FstabMountPlan.depth(b.element.mountPoint))
            return da != db ? da < db : a.offset < b.offset
        }.map(\.element)
        self.leftOut = leftOut
        self.problems = table.problems
    }

    public init(fstab text: String) { self.init(FstabParser.parse(text)) }

    static let networkTypes: Set<String> = [
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "sshfs", "fuse.sshfs", "ceph", "fuse.ceph", "glusterfs",
        "fuse.glusterfs", "davfs", "fuse.davfs", "afs", "ncpfs", "ncp", "9p", "virtiofs", "lustre", "fuse.s3fs",
        "fuse.rclone", "gfs2", "ocfs2",
    ]
    static let pseudoTypes: Set<String> = [
        "proc", "sysfs", "tmpfs", "devpts", "devtmpfs", "ramfs", "cgroup", "cgroup2", "securityfs", "debugfs",
        "tracefs", "configfs", "pstore", "efivarfs", "hugetlbfs", "mqueue", "bpf", "fusectl", "binfmt_misc",
        "autofs", "overlay", "rpc_pipefs", "nfsd", "selinuxfs", "usbfs",
    ]

    private enum Decision {
        case mount(PlannedMount)
        case leftOut(LeftOutEntry)
    }

    private static func decide(_ entry: FstabEntry) -> Decision {
        func out(_ kind: LeftOutKind, _ reason: String) -> Decision {
            .leftOut(LeftOutEntry(entry: entry, kind: kind, reason: reason))
        }
        let types = entry.types
        if types.contains("swap") { return out(.swap, "swap space is not mounted") }
        if entry.options.contains(where: { ["bind", "rbind", "move", "rmove"].contains($0) }) || types == ["none"] {
            return out(.bind, "a bind or move mount of a directory, not a filesystem of its own")
        }
        if let type = types.first(where: { networkTypes.contains($0) }) {
            return out(.network, "\(type) is a network filesystem, not part of the image")
        }
        if entry.spec.contains(":/") || entry.spec.hasPrefix("//") {
            return out(.network, "\(entry.spec) names a network share, not part of the image")
        }
        if entry.hasOption("_netdev") {
            return out(.network, "_netdev: the device needs the network (iSCSI, NBD, …), so it is not part of the image")
        }
        if let type = types.first(where: { pseudoTypes.contains($0) || ($0.hasPrefix("fuse.") || $0 == "fuse") }) {
            return out(.pseudo, "\(type) is not stored on a block device")
        }
        guard let mountPoint = normalized(entry.mountPoint) else {
            return out(.invalidMountPoint, "the mount point '\(entry.mountPoint)' is not an absolute path without '.' or '..'")
        }
        let automount = entry.hasOption("x-systemd.automount")
        if entry.hasOption("noauto") && !automount {
            return out(.noauto, "noauto: the boot does not mount it")
        }
        if entry.options.contains(where: { $0 == "loop" || $0.hasPrefix("loop=") || $0.hasPrefix("offset=") || $0.hasPrefix("sizelimit=") })
            || !(entry.spec.hasPrefix("/dev/") || DeviceSpec.isTag(entry.spec) || entry.spec == "/dev") {
            return out(.notABlockDevice, "\(entry.spec) is not a device or a UUID=/LABEL=/PARTUUID=/PARTLABEL= tag (a loop-mounted file or a pseudo device)")
        }
        if let option = entry.options.first(where: { $0.hasPrefix("X-mount.subdir=") || $0.hasPrefix("x-mount.subdir=") }) {
            return out(.unsupported, "\(option) mounts a directory of the filesystem, which is not supported")
        }
        if let option = entry.options.first(where: { $0.hasPrefix("encryption=") }) {
            return out(.unsupported, "\(option): encrypted loop devices are not supported")
        }

        var mountOptions: [String] = [], filesystem: [String] = [], dropped: [DroppedFstabOption] = []
        for option in entry.options {
            switch FstabOptionKind.classify(option) {
            case .vfsFlag:
                mountOptions.append(option)
            case .filesystem:
                mountOptions.append(option)
                filesystem.append(option)
            case .userspace(let reason):
                mountOptions += FstabOptionKind.implied[option] ?? []
                dropped.append(DroppedFstabOption(option: option, reason: reason))
            case .entry:
                dropped.append(DroppedFstabOption(option: option, reason: entryReason(option)))
            }
        }
        let nofail = entry.hasOption("nofail")
        var reason = "\(entry.title): \(types.joined(separator: ","))"
        if automount { reason += ", mounted on first access (x-systemd.automount)" }
        if nofail { reason += ", nofail (a failure only warns)" }
        return .mount(PlannedMount(entry: entry, mountPoint: mountPoint, types: types, mountOptions: mountOptions,
                                     filesystemOptions: filesystem, droppedOptions: dropped, nofail: nofail,
                                     automount: automount, reason: reason))
    }

    private static func entryReason(_ option: String) -> String {
        switch option {
        case "nofail": return "nofail: a failure to mount it only warns"
        case "noauto": return "noauto has no effect with x-systemd.automount"
        default: return "\(option) is read by mount(8), not mount(2)"
        }
    }

    /// "/boot//efi/" → "/boot/efi"; nil for relative paths and paths with "." or ".." components.
    static func normalized(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return nil }
        let parts = path.split(separator: "/")
        guard !parts.contains(where: { $0 == "." || $0 == ".." }), !path.contains("\0") else { return nil }
        return "/" + parts.joined(separator: "/")
    }

    static func depth(_ path: String) -> Int { path.split(separator: "/").count }
}
