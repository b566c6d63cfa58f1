/// One `chroot_mounts` entry in the seed's list form: `[fstype, source, target, option...]`; elements 4
/// and later are mount options (the seed's coreos example: `["ext4", "/dev/nbd0p3", "/usr", "ro"]`).
public struct ChrootMountSpec: Equatable, Sendable {
    public var fstype: String
    public var source: String
    public var target: String
    public var options: [String]

    public init(fstype: String, source: String, target: String, options: [String] = []) {
        self.fstype = fstype
        self.source = source
        self.target = target
        self.options = options
    }

    init?(row: [String], location: String, reader: OptionReader) {
        guard row.count >= 3 else {
            reader.problem(location, "expected [fstype, source, target, options...], got \(row.count) element(s)")
            return nil
        }
        guard row[2].hasPrefix("/") else {
            reader.problem(location, "the target (third element) must be an absolute path inside the image, got \"\(row[2])\"")
            return nil
        }
        self.init(fstype: row[0], source: row[1], target: row[2], options: Array(row.dropFirst(3)))
    }

    /// The seed's defaults, in mount order.
    public static let seedDefaults = [
        ChrootMountSpec(fstype: "proc", source: "proc", target: "/proc"),
        ChrootMountSpec(fstype: "sysfs", source: "sysfs", target: "/sys"),
        ChrootMountSpec(fstype: "bind", source: "/dev", target: "/dev"),
        ChrootMountSpec(fstype: "devpts", source: "devpts", target: "/dev/pts"),
        ChrootMountSpec(fstype: "binfmt_misc", source: "binfmt_misc", target: "/proc/sys/fs/binfmt_misc"),
    ]
}
