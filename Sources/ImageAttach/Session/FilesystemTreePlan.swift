import ImageLayout
import ImageMount

/// What happens to each entry of the root's /etc/fstab (or of `image_mounts`), decided before anything is
/// mounted: `MountedImage.mount` follows it (`FilesystemTreeMount`), `inspect` shows it
/// (`MountedImage.previewTree`). One plan, so the two never disagree.
public struct FilesystemTreePlan: Sendable {
    /// One entry and what is done with it.
    public struct Entry: Sendable {
        public enum Action: String, Sendable {
            /// Mounted at `mountPoint`, in the plan's order, after the root.
            case mount
            /// fstab's own line for "/": the root is mounted already; `reason`, if any, says how the line disagrees.
            case root
            /// `skip_mounts`: not mounted; writes land in the directory underneath, which it hides at boot.
            case skipped
            /// The boot does not mount it either: swap, network, pseudo, bind, noauto…
            case leftOut = "left_out"
            /// Cannot be mounted: a build stops before provisioning, saying `reason`.
            case stopsBuild = "stops_build"
            /// Cannot be mounted, but `nofail`: a build warns with `reason` and goes on.
            case nofailWarns = "nofail_warns"
        }

        /// The parsed line: spec, mount point, types, options and line number.
        public let entry: FstabEntry
        /// Absolute and normalized for entries the boot mounts; as written for the ones it leaves out.
        public let mountPoint: String
        /// What mount(2) gets (empty for entries not mounted).
        public let options: [String]
        public let nofail: Bool
        /// The volume of this image the entry names, when it names one that can be mounted.
        public let volume: Volume?
        /// The type it is mounted as (the probe's, checked against fstab's).
        public let fstype: String?
        /// btrfs `subvol=`, if given.
        public let subvolume: String?
        public internal(set) var action: Action
        /// Why it is not mounted, or what the root line says; nil for a plain mount.
        public internal(set) var reason: String?

        /// "fstab line 3 (UUID=… on /boot)".
        public var title: String { entry.title }

        /// It cannot be mounted: the build stops, or warns for `nofail`.
        mutating func fail(_ message: String) {
            (action, reason) = (nofail ? .nofailWarns : .stopsBuild, message)
        }
    }

    /// "/etc/fstab" or "image_mounts"; nil when only the root is mounted.
    public let source: String?
    /// The entries the boot mounts, parents first ("/" first when fstab lists it).
    public internal(set) var entries: [Entry]
    /// The entries the boot does not mount, in file order.
    public let leftOut: [Entry]
    /// What to tell the user besides the entries: lines that could not be read, a root without fstab.
    public let messages: [MountMessage]

    /// The tree below `root` (a volume of `volumes`) as `options` say: fstab's entries (`fstab` returns the
    /// root's /etc/fstab, nil if it has none) or `image_mounts`, each resolved to a volume of this image.
    init(volumes: ImageVolumes, root: RootCandidate, options: FilesystemTreeOptions, fstab: () throws -> String?) throws {
        guard let (table, source) = try options.table(fstab: fstab) else {
            self.init(source: nil, entries: [], leftOut: [], messages: options.fstabMounts
                ? [MountMessage(level: .info, text: "the root has no /etc/fstab: mounting the root only")] : [])
            return
        }
        let messages = table.problems.map { MountMessage(level: .warning, text: "\(source): \($0) (ignored, as the boot would)") }
        let leftOut = table.leftOut.map { out in
            let stops = out.kind == .unsupported && !options.skips(out.entry.mountPoint)
            return Entry(entry: out.entry, mountPoint: out.entry.mountPoint, options: [], nofail: false, volume: nil,
                         fstype: nil, subvolume: nil, action: stops ? .stopsBuild : .leftOut,
                         reason: stops ? "\(out.reason) (\(out.entry.title)); add \"\(out.entry.mountPoint)\" to skip_mounts to leave it out"
                                       : out.reason)
        }
        let rootVolume = volumes.volumes.first { volumes.mountable($0)?.number == root.volume.number }
        let entries = table.mounts.map { planned in
            Self.decide(planned, volumes: volumes, root: root, rootVolume: rootVolume, options: options)
        }
        self.init(source: source, entries: entries, leftOut: leftOut, messages: messages)
    }

    private init(source: String?, entries: [Entry], leftOut: [Entry], messages: [MountMessage]) {
        (self.source, self.entries, self.leftOut, self.messages) = (source, entries, leftOut, messages)
    }

    private static func decide(_ planned: PlannedMount, volumes: ImageVolumes, root: RootCandidate,
                               rootVolume: ImageVolume?, options: FilesystemTreeOptions) -> Entry {
        func entry(_ action: Entry.Action, _ reason: String?, volume: Volume? = nil, fstype: String? = nil) -> Entry {
            Entry(entry: planned.entry, mountPoint: planned.mountPoint, options: planned.mountOptions, nofail: planned.nofail,
                  volume: volume, fstype: fstype, subvolume: planned.subvolume, action: action, reason: reason)
        }
        if planned.isRoot {
            let named = try? volumes.resolve(planned.entry.spec, entry: planned.entry, root: rootVolume).get()
            return entry(.root, rootEntryMismatch(planned, volumes: volumes, root: root, rootVolume: rootVolume),
                         volume: named.flatMap(volumes.mountable), fstype: named.flatMap(volumes.mountable)?.mountType)
        }
        if options.skips(planned.mountPoint) {
            return entry(.skipped, "skip_mounts: \(planned.mountPoint) is not mounted (\(planned.entry.title)); files written "
                + "there land in the directory underneath (of the root, or of the filesystem mounted above it), which that "
                + "filesystem hides at boot")
        }
        var result = entry(.mount, nil)
        switch volumes.resolve(planned, root: rootVolume) {
        case .failure(let error):
            result.fail("\(error); add \"\(planned.mountPoint)\" to skip_mounts to leave it out")
        case .success(let resolved):
            guard let volume = volumes.mountable(resolved.volume) else {
                result.fail("\(planned.entry.title): \(resolved.volume) cannot be mounted")
                return result
            }
            result = entry(.mount, nil, volume: volume, fstype: resolved.mountType)
        }
        return result
    }

    /// The root is mounted already; fstab's own root entry only confirms (or questions) the choice.
    private static func rootEntryMismatch(_ planned: PlannedMount, volumes: ImageVolumes, root: RootCandidate,
                                          rootVolume: ImageVolume?) -> String? {
        guard case .success(let named) = volumes.resolve(planned.entry.spec, entry: planned.entry, root: rootVolume) else { return nil }
        func normalize(_ subvolume: String) -> String { subvolume.split(separator: "/").joined(separator: "/") }
        if let rootVolume, named != rootVolume {
            return "\(planned.entry.title) names \(named) as root, but \(root) is mounted as root"
        } else if let subvolume = planned.subvolume, root.subvolume.map(normalize) != normalize(subvolume) {
            return "\(planned.entry.title) mounts subvolume \(subvolume) as root, but \(root) is mounted as root"
        }
        return nil
    }

    /// Why `volume` cannot be mounted at `mountPoint` when mount(2) says ENODEV: the kernel lacks the driver.
    static func noDriver(_ entry: Entry, volume: Volume, fstype: String) -> String {
        let known = HostFilesystems.supports(fstype) ? "" : " (/proc/filesystems does not list it)"
        return "\(entry.title): this kernel has no \(fstype) driver\(known), so \(volume) cannot be mounted at "
            + "\(entry.mountPoint); add \"\(entry.mountPoint)\" to skip_mounts (shell: --skip-mount \(entry.mountPoint)) "
            + "to leave it out, knowing that writes there are hidden at boot"
    }
}
