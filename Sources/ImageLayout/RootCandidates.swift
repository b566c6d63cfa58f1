/// One way to mount a volume as the image's root: the volume, and for btrfs the subvolume (nil: the
/// filesystem's default subvolume).
public struct RootCandidate: Equatable, Sendable, CustomStringConvertible {
    public let volume: Volume
    public let subvolume: String?

    public init(volume: Volume, subvolume: String? = nil) {
        self.volume = volume
        self.subvolume = subvolume
    }

    /// What mount(2) needs on top of the user's options to mount this candidate.
    public var mountOptions: [String] { subvolume.map { ["subvol=\($0)"] } ?? [] }

    /// "partition 4 (btrfs, label fedora), subvolume root".
    public var description: String { volume.description + (subvolume.map { ", subvolume \($0)" } ?? "") }
}

/// What the root rule can tell from the layout alone: a root that is settled (`mount_partition`, or a
/// Discoverable Partitions root type), or the candidates to look inside, in order.
public struct RootCandidates: Equatable, Sendable {
    /// Settled without looking inside, with the reason.
    public let settled: (candidate: RootCandidate, reason: String)?
    /// Looked inside in this order when nothing is settled; the first that looks like a root wins.
    public let candidates: [RootCandidate]

    public init(settled: (candidate: RootCandidate, reason: String)?, candidates: [RootCandidate]) {
        self.settled = settled
        self.candidates = candidates
    }

    public static func == (a: RootCandidates, b: RootCandidates) -> Bool {
        a.settled?.candidate == b.settled?.candidate && a.settled?.reason == b.settled?.reason && a.candidates == b.candidates
    }

    /// btrfs subvolumes a distribution's root lives in, after the default subvolume: Fedora's `root`,
    /// Ubuntu's and openSUSE's `@`, and `@rootfs`.
    public static let btrfsRootSubvolumes = ["root", "@", "@rootfs"]

    /// The layout-level choice in one sentence, for `inspect`, which cannot look inside filesystems.
    public var layoutSummary: String {
        if let settled { return "\(settled.candidate): \(settled.reason)" }
        guard let first = candidates.first else { return "none: no volume holds a Linux filesystem; set mount_partition" }
        let rest = candidates.dropFirst().map(\.description)
        return "\(first) if it holds a root (/etc/fstab or /usr/lib/os-release, and /bin/sh or /sbin/init); build and "
            + "shell look inside to confirm" + (rest.isEmpty ? "" : ", then try \(rest.joined(separator: "; "))")
    }
}

extension DiskLayout {
    /// The root rule's first part: `mountPartition` (0 = the whole disk) if set; else a partition typed as a
    /// Discoverable Partitions root (the host's architecture first, then any other: an arm64 image on an
    /// x86-64 host); else every Linux filesystem (partitions in order, then the whole disk, then linear LVM
    /// volumes), a btrfs one as its default subvolume and then as each of `btrfsRootSubvolumes`.
    public func rootCandidates(mountPartition: Int?, volumes: ImageVolumes) throws -> RootCandidates {
        if let mountPartition {
            return RootCandidates(settled: (RootCandidate(volume: try volume(mountPartition: mountPartition)),
                                            "mount_partition is \(mountPartition)"), candidates: [])
        }
        let mountable = partitions.filter { $0.filesystem?.isMountable == true }
        let dps = mountable.first { $0.type.role == .root(Architecture.host) } ?? mountable.first { $0.type.role?.isRoot == true }
        if let dps, case .root(let architecture)? = dps.type.role {
            return RootCandidates(settled: (RootCandidate(volume: try volume(mountPartition: dps.number)),
                                            "its partition type is the Discoverable Partitions root for \(architecture.rawValue)"),
                                  candidates: [])
        }
        var linux: [Volume] = []
        for partition in mountable where partition.filesystem?.type.isLinuxRoot == true {
            linux.append(try volume(mountPartition: partition.number))
        }
        if table == .none, wholeDiskFilesystem?.type.isLinuxRoot == true { linux.append(try volume(mountPartition: 0)) }
        for imageVolume in volumes.volumes {
            guard case .logicalVolume = imageVolume.source, imageVolume.filesystem?.type.isLinuxRoot == true,
                  let volume = volumes.mountable(imageVolume) else { continue }
            linux.append(volume)
        }
        let candidates = linux.flatMap { volume -> [RootCandidate] in
            guard volume.filesystem.type == .btrfs else { return [RootCandidate(volume: volume)] }
            return [RootCandidate(volume: volume)] + RootCandidates.btrfsRootSubvolumes.map { RootCandidate(volume: volume, subvolume: $0) }
        }
        if candidates.isEmpty, let filesystem = wholeDiskFilesystem, filesystem.isMountable {
            return RootCandidates(settled: (RootCandidate(volume: try volume(mountPartition: 0)),
                                            "the only filesystem is a \(filesystem.type.rawValue) on the whole disk"),
                                  candidates: [])
        }
        return RootCandidates(settled: nil, candidates: candidates)
    }
}
