/// A physical volume as the VG metadata lists it. Sizes are in 512-byte sectors, as lvm2 writes them.
public struct LVMPhysicalVolume: Equatable, Sendable {
    /// The key in `physical_volumes` ("pv0"), which segments refer to.
    public let name: String
    public let id: String
    /// The device lvm2 last saw it on: a hint only, never used to find it.
    public let deviceHint: String?
    public let peStart: UInt64
    public let peCount: UInt64
}

/// One stripe of a segment: extents from `startExtent` on physical volume `pv`.
public struct LVMStripe: Equatable, Sendable {
    public let pv: String
    public let startExtent: UInt64
}

public struct LVMSegment: Equatable, Sendable {
    public let startExtent: UInt64
    public let extentCount: UInt64
    /// "striped" (with one stripe: linear), "thin", "thin-pool", "raid1", "mirror", "cache", "snapshot", …
    public let type: String
    public let stripes: [LVMStripe]

    public var isLinear: Bool { type == "striped" && stripes.count == 1 }
}

public struct LVMLogicalVolume: Equatable, Sendable {
    public let name: String
    public let id: String
    public let status: [String]
    public let segments: [LVMSegment]

    public var isVisible: Bool { status.contains("VISIBLE") }

    /// One linear segment that starts at extent 0: the only kind mapped without device-mapper.
    public var linearSegment: LVMSegment? {
        guard segments.count == 1, let segment = segments.first, segment.isLinear, segment.startExtent == 0 else { return nil }
        return segment
    }

    /// Every segment linear (one stripe each): mapped piece by piece with device-mapper, or, with one segment
    /// only, as one range of the disk.
    public var isLinear: Bool { !segments.isEmpty && segments.allSatisfy(\.isLinear) }

    /// "thin", "striped across 2 stripes", "linear in 3 segments", … for the sentence that refuses it; nil when
    /// it is one linear segment.
    public var unsupportedKind: String? {
        if linearSegment != nil { return nil }
        if segments.isEmpty { return "no segments" }
        if isLinear { return "linear in \(segments.count) segments" }
        if let other = segments.first(where: { !$0.isLinear }) {
            if other.type == "striped" {
                return other.stripes.isEmpty ? "striped with no stripes" : "striped across \(other.stripes.count) stripes"
            }
            return segments.count > 1 ? "\(other.type) (in \(segments.count) segments)" : other.type
        }
        return "\(segments.count) segments"
    }
}

/// Where a linear LV's bytes are on its physical volume.
public struct LVMExtentRange: Equatable, Sendable {
    public let pv: LVMPhysicalVolume
    /// From the start of the PV.
    public let offset: UInt64
    public let size: UInt64
}

/// A volume group read from its metadata text.
public struct LVMVolumeGroup: Equatable, Sendable {
    public let name: String
    public let id: String
    public let seqno: Int64
    /// In 512-byte sectors.
    public let extentSize: UInt64
    public let physicalVolumes: [LVMPhysicalVolume]
    public let logicalVolumes: [LVMLogicalVolume]

    public init(metadata text: String) throws {
        try self.init(LVMConfigParser.parse(text))
    }

    public init(_ root: LVMConfigSection) throws {
        guard let (name, vg) = root.sections.first(where: { $0.section["physical_volumes"] != nil || $0.section["extent_size"] != nil }) else {
            throw LayoutError("the LVM metadata holds no volume group section")
        }
        func fail(_ message: String) -> LayoutError { LayoutError("LVM volume group \(name): \(message)") }
        guard let id = vg.string("id") else { throw fail("has no id") }
        guard let extentSize = vg.integer("extent_size"), extentSize > 0 else { throw fail("has no positive extent_size") }
        self.name = name
        self.id = id
        self.seqno = vg.integer("seqno") ?? 0
        self.extentSize = UInt64(extentSize)
        physicalVolumes = try (vg.section("physical_volumes")?.sections ?? []).map { pvName, pv in
            guard let id = pv.string("id") else { throw fail("physical volume \(pvName) has no id") }
            guard let peStart = pv.integer("pe_start"), peStart >= 0, let peCount = pv.integer("pe_count"), peCount >= 0 else {
                throw fail("physical volume \(pvName) has no pe_start or pe_count")
            }
            return LVMPhysicalVolume(name: pvName, id: id, deviceHint: pv.string("device"), peStart: UInt64(peStart),
                                     peCount: UInt64(peCount))
        }
        logicalVolumes = try (vg.section("logical_volumes")?.sections ?? []).map { lvName, lv in
            let segments = try lv.sections.filter { $0.name.hasPrefix("segment") }.map { segmentName, segment in
                try LVMVolumeGroup.segment(segment, "logical volume \(lvName) \(segmentName)", fail)
            }
            return LVMLogicalVolume(name: lvName, id: lv.string("id") ?? "", status: lv.strings("status") ?? [],
                                    segments: segments)
        }
    }

    private static func segment(_ s: LVMConfigSection, _ what: String, _ fail: (String) -> LayoutError) throws -> LVMSegment {
        guard let start = s.integer("start_extent"), start >= 0, let count = s.integer("extent_count"), count > 0 else {
            throw fail("\(what) has no start_extent or a non-positive extent_count")
        }
        guard let type = s.string("type") else { throw fail("\(what) has no type") }
        var stripes: [LVMStripe] = []
        if type == "striped" {
            guard case .list(let items)? = s["stripes"], items.count % 2 == 0 else {
                throw fail("\(what) has no stripes list of PV names and extents")
            }
            for pair in stride(from: 0, to: items.count, by: 2) {
                guard case .string(let pv) = items[pair], case .integer(let extent) = items[pair + 1], extent >= 0 else {
                    throw fail("\(what) has a stripe that is not a PV name and an extent")
                }
                stripes.append(LVMStripe(pv: pv, startExtent: UInt64(extent)))
            }
            if let declared = s.integer("stripe_count"), declared != Int64(stripes.count) {
                throw fail("\(what) declares \(declared) stripes but lists \(stripes.count)")
            }
        }
        return LVMSegment(startExtent: UInt64(start), extentCount: UInt64(count), type: type, stripes: stripes)
    }

    public func logicalVolume(_ name: String) -> LVMLogicalVolume? { logicalVolumes.first { $0.name == name } }

    /// Where each segment of a linear LV lies on its PV, in the LV's order; the segments must cover the LV from
    /// extent 0 without a gap or overlap, as lvm2 writes them.
    public func linearPieces(of lv: LVMLogicalVolume) throws -> [LVMExtentRange] {
        guard lv.isLinear else {
            throw LayoutError("LVM logical volume \(name)/\(lv.name) is of unsupported kind \(lv.unsupportedKind ?? "unknown")")
        }
        var next: UInt64 = 0
        return try lv.segments.sorted { $0.startExtent < $1.startExtent }.map { segment in
            guard segment.startExtent == next else {
                throw LayoutError("LVM logical volume \(name)/\(lv.name) has a segment at extent \(segment.startExtent) where extent \(next) was expected")
            }
            next = segment.startExtent &+ segment.extentCount
            return try range(of: lv, segment: segment)
        }
    }

    /// Where a single-segment linear LV lies on its PV: pe_start + extent × extent_size sectors.
    public func extentRange(of lv: LVMLogicalVolume) throws -> LVMExtentRange {
        guard let segment = lv.linearSegment else {
            throw LayoutError("LVM logical volume \(name)/\(lv.name) is of unsupported kind \(lv.unsupportedKind ?? "unknown")")
        }
        return try range(of: lv, segment: segment)
    }

    private func range(of lv: LVMLogicalVolume, segment: LVMSegment) throws -> LVMExtentRange {
        guard let stripe = segment.stripes.first else {
            throw LayoutError("LVM logical volume \(name)/\(lv.name) has a linear segment without a stripe")
        }
        guard let pv = physicalVolumes.first(where: { $0.name == stripe.pv }) else {
            throw LayoutError("LVM logical volume \(name)/\(lv.name) lies on \(stripe.pv), which the volume group does not list")
        }
        let (end, endOverflow) = stripe.startExtent.addingReportingOverflow(segment.extentCount)
        guard !endOverflow, end <= pv.peCount else {
            throw LayoutError("LVM logical volume \(name)/\(lv.name) uses extents \(stripe.startExtent)…\(stripe.startExtent &+ segment.extentCount) of \(stripe.pv), which has \(pv.peCount)")
        }
        guard let offset = LVMVolumeGroup.sectors(toBytes: pv.peStart, plus: stripe.startExtent, times: extentSize),
              let size = LVMVolumeGroup.sectors(toBytes: 0, plus: segment.extentCount, times: extentSize) else {
            throw LayoutError("LVM logical volume \(name)/\(lv.name) has a size that does not fit in 64 bits")
        }
        return LVMExtentRange(pv: pv, offset: offset, size: size)
    }

    /// (base + count × unit) sectors in bytes, or nil on overflow.
    private static func sectors(toBytes base: UInt64, plus count: UInt64, times unit: UInt64) -> UInt64? {
        let (product, o1) = count.multipliedReportingOverflow(by: unit)
        let (sum, o2) = base.addingReportingOverflow(product)
        let (bytes, o3) = sum.multipliedReportingOverflow(by: 512)
        return o1 || o2 || o3 ? nil : bytes
    }
}
