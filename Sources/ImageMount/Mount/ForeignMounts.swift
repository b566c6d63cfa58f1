import Glibc
import HostSystem

/// Mounts below an image's mount path that this run did not make: post_mount_commands, a provisioner or
/// the user mounted them (or they came with a recursive bind). They hold the mounts under them busy, so
/// release takes them down first, deepest first, trimming each filesystem that keeps data.
enum ForeignMounts {
    struct Entry {
        let target: String
        let fstype: String
    }

    /// What /proc/thread-self/mountinfo lists below `mountPath` beyond `ours`, deepest first (and, at one
    /// depth, the most recent first).
    static func find(below mountPath: String, ours: [LiveMount]) -> [Entry] {
        guard let info = ProcFS.readText("/proc/thread-self/mountinfo", limit: 16 << 20) else { return [] }
        var remaining = Dictionary(ours.map { ($0.target, 1) }, uniquingKeysWith: +)
        var found: [Entry] = []
        for line in info.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            let target = ProcFS.unescapeMountField(fields[4])
            guard target == mountPath || target.hasPrefix(mountPath + "/") else { continue }
            // The oldest mounts at a target are ours; anything stacked beyond their number is not.
            if let count = remaining[target], count > 0 {
                remaining[target] = count - 1
                continue
            }
            found.append(Entry(target: target, fstype: String(fields[dash + 1])))
        }
        return found.enumerated().sorted { a, b in
            let (da, db) = (a.element.target.split(separator: "/").count, b.element.target.split(separator: "/").count)
            return da != db ? da > db : a.offset > b.offset
        }.map(\.element)
    }

    /// Unmounts `entries` in order, saying that this run did not make them. A bind or pseudo mount that
    /// stays busy is detached lazily: it holds no data.
    static func release(_ entries: [Entry], below mountPath: String) throws {
        guard !entries.isEmpty else { return }
        Log.warning("unmounting \(entries.count) mount\(entries.count == 1 ? "" : "s") below \(mountPath) that this run did not make "
            + "(post_mount_commands, a provisioner or someone else added them): \(entries.map { "\($0.fstype) on \($0.target)" }.joined(separator: ", "))")
        var errors = Teardown.Errors()
        for entry in entries {
            if keepsData(entry.fstype) { Trim.run(on: entry.target) }
            do { try Mount.unmount(entry.target, flags: 0) } catch where error.errno == EBUSY && !keepsData(entry.fstype) {
                try? Mount.unmount(entry.target, flags: Int32(MNT_DETACH))
            } catch where error.errno == EINVAL || error.errno == ENOENT {
                continue
            } catch {
                Log.error("\(error)")
                errors.record(error, in: "unmount \(entry.target)")
            }
        }
        try errors.rethrow()
    }

    private static func keepsData(_ fstype: String) -> Bool {
        ["ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "exfat", "f2fs", "jfs", "reiserfs", "ntfs3"].contains(fstype)
    }
}
