import NBDCore

/// Reads one `chroot_mounts` entry in the seed's list form: `[fstype, source, target, option...]`; elements
/// 4 and later are mount options (the seed's coreos example: `["ext4", "/dev/nbd0p3", "/usr", "ro"]`).
/// Problems are reported with the entry's location instead of thrown, so validation lists them all.
extension ChrootMount {
    static func parse(row: [String], location: String, reader: OptionReader) -> ChrootMount? {
        guard row.count >= 3 else {
            reader.problem(location, "expected [fstype, source, target, options...], got \(row.count) element(s)")
            return nil
        }
        guard row[2].hasPrefix("/") else {
            reader.problem(location, "the target (third element) must be an absolute path inside the image, got \"\(row[2])\"")
            return nil
        }
        return ChrootMount(fstype: row[0], source: row[1], target: row[2], options: Array(row.dropFirst(3)))
    }
}
