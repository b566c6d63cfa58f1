import Builder
import NBDCore

/// The two renderings of an inspect report: text for people, JSON (schema in docs/inspect.md) for programs.
extension InspectReport {
    static let schemaVersion = 3

    var json: JSONValue {
        var fields: [(key: String, value: JSONValue)] = [
            ("schema_version", .int(Int64(InspectReport.schemaVersion))),
            ("image", .string(info.path)),
            ("format", .string(info.format.rawValue)),
            ("virtual_size", .uint(info.virtualSize)),
            ("backing_file", info.backingFile.map(JSONValue.string) ?? .null),
            ("table", .string(layout.table.rawValue)),
            ("sector_size", .int(Int64(layout.sectorSize))),
            ("used_backup_gpt", .bool(layout.usedBackupGPT)),
            ("warnings", .array(layout.warnings.map(JSONValue.string))),
            ("root_partition", root.map { .int(Int64($0)) } ?? .null),
        ]
        fields.append(("root", rootJSON))
        fields.append(("architecture", architecture.map { .string($0.rawValue) } ?? .null))
        fields.append(("architecture_source", .string(architectureSource)))
        fields.append(("whole_disk_filesystem", layout.wholeDiskFilesystem.map(filesystemJSON) ?? .null))
        fields.append(("partitions", .array(layout.partitions.map(partitionJSON))))
        fields.append(("mount_plan", mounts.map { .array($0.planJSON) } ?? .null))
        fields.append(("mount_plan_unavailable", mounts == nil ? .string(mountPlanUnavailable ?? "not computed") : .null))
        fields.append(("mount_plan_notes", .array((mounts?.notes ?? []).map(JSONValue.string))))
        return .object(fields)
    }

    /// The root: chosen as build and shell choose it (looking inside, read-only) when the image could be
    /// attached, else the layout-level part of the rule, which only build or shell confirm.
    private var rootJSON: JSONValue {
        guard let rootCandidates else {
            return .object([("volume", mounts.map { .string($0.rootChoice.candidate.volume.description) } ?? .null),
                            ("partition", root.map { .int(Int64($0)) } ?? .null),
                            ("subvolume", mounts?.rootChoice.candidate.subvolume.map(JSONValue.string) ?? .null),
                            ("settled", .bool(mounts != nil)), ("looked_inside", .bool(mounts != nil)),
                            ("reason", .string(mounts?.rootChoice.explanation ?? rootProblem ?? "no root")),
                            ("candidates", .array([]))])
        }
        return .object([
            ("volume", chosenRoot.map { .string($0.volume.description) } ?? .null),
            ("partition", root.map { .int(Int64($0)) } ?? .null),
            ("subvolume", chosenRoot?.subvolume.map(JSONValue.string) ?? .null),
            ("settled", .bool(mounts != nil || rootCandidates.settled != nil)),
            ("looked_inside", .bool(mounts != nil)),
            ("reason", .string(mounts?.rootChoice.explanation ?? rootCandidates.layoutSummary)),
            ("candidates", .array(rootCandidates.candidates.map { .string($0.description) })),
        ])
    }

    private func partitionJSON(_ p: Partition) -> JSONValue {
        let ss = UInt64(layout.sectorSize)
        return .object([
            ("number", .int(Int64(p.number))),
            ("start", .uint(p.start)),
            ("size", .uint(p.size)),
            ("start_sector", .uint(p.start / ss)),
            ("sectors", .uint(p.size / ss)),
            ("type", .string(p.type.codeText)),
            ("type_name", .string(p.type.name)),
            ("role", p.type.role.map { .string($0.description) } ?? .null),
            ("name", p.name.map(JSONValue.string) ?? .null),
            ("uuid", p.uuid.map(JSONValue.string) ?? .null),
            ("attributes", .uint(p.attributes)),
            ("extended_container", .bool(p.isExtendedContainer)),
            ("root", .bool(p.number == root)),
            ("filesystem", p.filesystem.map(filesystemJSON) ?? .null),
        ])
    }

    private func filesystemJSON(_ fs: FilesystemInfo) -> JSONValue {
        .object([
            ("type", .string(fs.type.rawValue)),
            ("label", fs.label.map(JSONValue.string) ?? .null),
            ("uuid", fs.uuid.map(JSONValue.string) ?? .null),
            ("mount_type", fs.mountType.map(JSONValue.string) ?? .null),
            ("note", fs.type.refusal.map(JSONValue.string) ?? .null),
        ])
    }

    var text: String {
        var lines = ["image:  \(printable(info.path))",
                     "format: \(info.format.rawValue), virtual size \(bytes(info.virtualSize))"]
        if let backing = info.backingFile { lines.append("backing file: \(printable(backing))") }
        switch layout.table {
        case .gpt: lines.append("table:  GPT, \(layout.sectorSize)-byte sectors" + (layout.usedBackupGPT ? ", read from the BACKUP header" : ""))
        case .mbr: lines.append("table:  MBR (DOS)")
        case .none: lines.append("table:  none")
        }
        lines += layout.warnings.map { "warning: \(printable($0))" }
        if let fs = layout.wholeDiskFilesystem { lines.append("whole disk: \(describe(fs))" + (root == 0 ? "  <- root" : "")) }
        for p in layout.partitions {
            lines.append("partition \(p.number): start \(p.start), size \(bytes(p.size))" + (p.number == root ? "  <- root" : ""))
            let role = p.type.role.map { ", role \($0)" } ?? ""
            lines.append("    type \(p.type.codeText) (\(p.type.name)\(role))")
            let name = p.name.map { "name \"\(printable($0))\", " } ?? ""
            if let uuid = p.uuid { lines.append("    \(name)uuid \(uuid)") }
            if p.isExtendedContainer {
                lines.append("    extended partition (holds the logical partitions)")
            } else {
                lines.append("    filesystem: " + (p.filesystem.map(describe) ?? "none recognised"))
            }
        }
        lines.append("root:   " + printable(mounts?.rootChoice.explanation ?? rootCandidates?.layoutSummary ?? rootProblem ?? "none"))
        lines.append("architecture: \(architecture?.rawValue ?? "unknown") (\(architectureSource))")
        if let mounts {
            lines += mounts.planText.map(printable)
        } else {
            lines.append("mount plan: not shown (\(printable(mountPlanUnavailable ?? "not computed")))")
        }
        return lines.joined(separator: "\n")
    }

    private func describe(_ fs: FilesystemInfo) -> String {
        var text = fs.type.rawValue
        if let label = fs.label { text += ", label \"\(printable(label))\"" }
        if let uuid = fs.uuid { text += ", uuid \(uuid)" }
        if let note = fs.type.refusal { text += " (\(note))" }
        return text
    }

    private func bytes(_ count: UInt64) -> String {
        let mib = Double(count) / 1_048_576
        return "\(count) bytes (" + (mib >= 1024 ? "\((mib / 1024 * 10).rounded() / 10) GiB" : "\((mib * 10).rounded() / 10) MiB") + ")"
    }

    /// Names come from hostile images: control characters would break the one-line-per-fact output.
    private func printable(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
    }
}
