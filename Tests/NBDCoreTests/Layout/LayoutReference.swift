import Foundation
import NBDCore
import TestSupport

/// What the reference tools (sfdisk, blkid) say about a fixture, for comparison with our parser.
struct ReferencePartition: Equatable, CustomStringConvertible {
    let number: Int
    let startSector: UInt64
    let sectors: UInt64
    let type: String

    var description: String { "\(number): \(startSector)+\(sectors) \(type)" }
}

struct ReferenceTable {
    let label: String
    let sectorSize: Int
    let partitions: [ReferencePartition]
}

enum LayoutReference {
    /// `sfdisk --json` of the image; a 4K-sector image is read through a read-only loop device with
    /// 4096-byte blocks, since this sfdisk has no --sector-size. nil when sfdisk finds no table.
    static func sfdisk(_ image: String, sectorSize: Int = 512) throws -> ReferenceTable? {
        var device = image
        var loop: String?
        if sectorSize != 512 {
            loop = try Command.check("losetup", ["-r", "-b", "\(sectorSize)", "--show", "-f", image]).trimmingWhitespace()
            device = loop!
        }
        defer { if let loop { _ = try? Command.run("losetup", ["-d", loop]) } }
        let result = try Command.run("sfdisk", ["--json", device])
        guard result.status.isSuccess, !result.stdout.isEmpty else { return nil }
        return try parse(Data(result.stdout.utf8), device: device)
    }

    static func parse(_ json: Data, device: String) throws -> ReferenceTable {
        let root = try JSONSerialization.jsonObject(with: json) as? [String: Any]
        let table = root?["partitiontable"] as? [String: Any] ?? [:]
        let entries = table["partitions"] as? [[String: Any]] ?? []
        let partitions = entries.map { entry -> ReferencePartition in
            var node = Substring(entry["node"] as? String ?? "")
            node = node.dropFirst(device.count)
            if node.first == "p" { node = node.dropFirst() }
            return ReferencePartition(number: Int(node) ?? -1, startSector: (entry["start"] as? NSNumber)?.uint64Value ?? 0,
                                      sectors: (entry["size"] as? NSNumber)?.uint64Value ?? 0,
                                      type: (entry["type"] as? String ?? "").uppercased())
        }
        return ReferenceTable(label: table["label"] as? String ?? "", sectorSize: table["sectorsize"] as? Int ?? 512,
                              partitions: partitions.sorted { $0.number < $1.number })
    }

    /// Our layout in the same terms.
    static func ours(_ layout: DiskLayout) -> [ReferencePartition] {
        let ss = UInt64(layout.sectorSize)
        return layout.partitions.map {
            ReferencePartition(number: $0.number, startSector: $0.start / ss, sectors: $0.size / ss,
                               type: $0.type.codeText.uppercased())
        }
    }

    /// `blkid -p -o export FILE` as a dictionary (TYPE, LABEL, UUID, ...); empty when blkid finds nothing.
    static func blkid(_ file: String) throws -> [String: String] {
        let result = try Command.run("blkid", ["-p", "-o", "export", file])
        var values: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return values
    }
}
