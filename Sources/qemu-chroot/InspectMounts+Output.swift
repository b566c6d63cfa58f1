import Builder
import NBDCore

/// The mount plan as `inspect` prints it: the root first (from the root rule), then each entry of the
/// image's fstab (or `image_mounts`) the boot mounts, in mount order, then the entries it leaves out.
extension InspectMounts {
    /// One row of the plan, whatever it came from.
    private struct Row {
        let mountPoint: String
        let origin: String
        let spec: String?
        let volume: Volume?
        let subvolume: String?
        let fstype: String?
        let options: [String]
        let action: String
        let reason: String?
    }

    private var rows: [Row] {
        let rootRow = Row(mountPoint: "/", origin: "root rule", spec: nil, volume: root.volume, subvolume: rootChoice.candidate.subvolume,
                          fstype: root.fstype, options: root.options, action: FilesystemTreePlan.Entry.Action.mount.rawValue,
                          reason: nil)
        return [rootRow] + (tree.entries + tree.leftOut).map { entry in
            let origin = tree.source == "image_mounts"
                ? "image_mounts entry \(entry.entry.line) (\(entry.entry.spec) on \(entry.entry.mountPoint))" : entry.title
            return Row(mountPoint: entry.mountPoint, origin: origin, spec: entry.entry.spec, volume: entry.volume,
                       subvolume: entry.subvolume, fstype: entry.fstype ?? entry.entry.types.joined(separator: ","),
                       options: entry.options, action: entry.action.rawValue, reason: entry.reason)
        }
    }

    /// What attaching and reading the tree said besides the rows.
    var notes: [String] { (messages + tree.messages).map(\.text) }

    var planJSON: [JSONValue] {
        rows.map { row in
            var partition: JSONValue = .null, logicalVolume: JSONValue = .null
            switch row.volume?.source {
            case .wholeDisk?: partition = .int(0)
            case .partition(let number)?: partition = .int(Int64(number))
            case .logicalVolume(let group, let volume)?: logicalVolume = .string("\(group)/\(volume)")
            case nil: break
            }
            return .object([
                ("mount_point", .string(row.mountPoint)),
                ("origin", .string(row.origin)),
                ("spec", row.spec.map(JSONValue.string) ?? .null),
                ("volume", row.volume.map { .string($0.description) } ?? .null),
                ("partition", partition),
                ("logical_volume", logicalVolume),
                ("subvolume", row.subvolume.map(JSONValue.string) ?? .null),
                ("fstype", row.fstype.map(JSONValue.string) ?? .null),
                ("options", .array(row.options.map(JSONValue.string))),
                ("action", .string(row.action)),
                ("reason", row.reason.map(JSONValue.string) ?? .null),
            ])
        }
    }

    var planText: [String] {
        let from = tree.source.map { "from \($0)" } ?? "the root only"
        var lines = ["mount plan (\(from); the image attached read-only through \(attachMode.rawValue), as build and shell mount it):"]
        let width = min(24, rows.map(\.mountPoint.count).max() ?? 1)
        for row in rows {
            let place = row.mountPoint + String(repeating: " ", count: max(0, width - row.mountPoint.count))
            let what: String
            switch FilesystemTreePlan.Entry.Action(rawValue: row.action) {
            case .mount?:
                let volume = row.volume.map { "\($0)" + (row.subvolume.map { ", subvolume \($0)" } ?? "") } ?? "?"
                let options = row.options.isEmpty ? "" : ", options \(row.options.joined(separator: ","))"
                what = "mount \(volume) as \(row.fstype ?? "?")\(options)  [\(row.origin)]"
            case .root?:
                what = "root line of \(row.origin)" + (row.reason.map { ": WARNING \($0)" } ?? ": agrees with the root above")
            case .skipped?:
                what = "skipped (skip_mounts): \(row.origin); writes there land in the directory underneath, hidden at boot"
            case .leftOut?:
                what = "left out: \(row.origin): \(row.reason ?? "")"
            case .stopsBuild?:
                what = "CANNOT BE MOUNTED, a build stops: \(row.reason ?? row.origin)"
            case .nofailWarns?:
                what = "cannot be mounted (nofail: a build warns and goes on): \(row.reason ?? row.origin)"
            case nil:
                what = row.action
            }
            lines.append("  \(place)  \(what)")
        }
        lines += notes.map { "  note: \($0)" }
        return lines
    }
}
