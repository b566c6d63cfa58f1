import Glibc
import HostSystem
import ImageLayout
import ImageMount

/// Which of the image's filesystems are mounted besides the root: what its /etc/fstab lists (the
/// default), what the user lists instead (`image_mounts`), or none (`fstab_mounts` false).
public struct FilesystemTreeOptions: Sendable, Equatable {
    /// Mount points left out (and everything below them): `skip_mounts`, `--skip-mount`.
    public var skipMounts: [String]
    /// (device spec or partition number, mount point) pairs replacing fstab discovery: `image_mounts`.
    public var imageMounts: [ImageMountRequest]?
    /// false: the root only.
    public var fstabMounts: Bool

    public init(skipMounts: [String] = [], imageMounts: [ImageMountRequest]? = nil, fstabMounts: Bool = true) {
        (self.skipMounts, self.imageMounts, self.fstabMounts) = (skipMounts, imageMounts, fstabMounts)
    }

    /// The plan's entries: the image's fstab, or `image_mounts` written as one.
    func table(fstab: () throws -> String?) throws -> (plan: FstabMountPlan, source: String)? {
        if let imageMounts {
            let lines = imageMounts.map { "\($0.fstabSpec) \($0.mountPoint) auto defaults 0 0" }
            return (FstabMountPlan(fstab: lines.joined(separator: "\n") + "\n"), "image_mounts")
        }
        guard fstabMounts, let text = try fstab() else { return nil }
        return (FstabMountPlan(fstab: text), "/etc/fstab")
    }

    /// Whether `mountPoint` is `skip_mounts` or below one.
    func skips(_ mountPoint: String) -> Bool {
        skipMounts.contains { skipped in
            let trimmed = skipped.count > 1 && skipped.hasSuffix("/") ? String(skipped.dropLast()) : skipped
            return mountPoint == trimmed || mountPoint.hasPrefix(trimmed == "/" ? "/" : trimmed + "/")
        }
    }
}

/// One `image_mounts` pair: a device spec (UUID=, LABEL=, /dev/vda2, …) or a bare partition number, and
/// where it goes.
public struct ImageMountRequest: Sendable, Equatable {
    public let spec: String
    public let mountPoint: String

    public init(spec: String, mountPoint: String) {
        (self.spec, self.mountPoint) = (spec, mountPoint)
    }

    /// "SPEC:PATH", as `--image-mount` takes it; the last colon splits, so "UUID=…" and "/dev/vda15" work.
    public init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), colon != argument.startIndex else { return nil }
        let path = String(argument[argument.index(after: colon)...])
        guard path.hasPrefix("/") else { return nil }
        self.init(spec: String(argument[..<colon]), mountPoint: path)
    }

    /// A bare number is that partition of the image's disk.
    var fstabSpec: String {
        let escaped = spec.replacingOccurrences(of: " ", with: "\\040")
        return Int(spec) != nil ? "/dev/vda\(spec)" : escaped
    }
}

/// What mounting the tree said, in the caller's voice: the builder prints it, `shell` logs it.
public struct MountMessage: Sendable, Equatable {
    public enum Level: Sendable { case info, warning }
    public let level: Level
    public let text: String
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
