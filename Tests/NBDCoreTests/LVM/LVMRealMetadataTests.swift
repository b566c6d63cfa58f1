import Foundation
@testable import ImageLayout
import NBDCore
import Testing
import TestSupport

/// Our LVM2 reader against metadata written by the host's lvm2 tools, checked with lvm2's own reports.
@Suite(.serialized) struct LVMRealMetadataTests {
    @Test(.enabled(if: LVMToolsFixture.requirements == nil, "\(LVMToolsFixture.requirements ?? "")"), .timeLimit(.minutes(3)))
    func labelMetadataAndSegmentsMatchLvmReports() throws {
        let fixture = try LVMToolsFixture()
        defer { fixture.detach() }
        let vg = fixture.groupName
        try fixture.lvm("pvcreate", ["-ff", "-y", "$DEVICE"])
        try fixture.lvm("vgcreate", ["-s", "1m", vg, "$DEVICE"])
        for (name, size) in [("root", "12m"), ("data", "3m"), ("swap", "4m")] {
            try fixture.lvm("lvcreate", ["--driverloaded", "n", "-an", "-Zn", "-L", size, "-n", name, vg])
        }
        // swap follows data, so data's new extents are not next to its first ones: two segments.
        try fixture.lvm("lvextend", ["--driverloaded", "n", "-L", "+2m", "\(vg)/data"])

        let pvs = try #require(try fixture.report("pvs", "pv", "pv_uuid,pe_start,dev_size").first)
        let vgs = try #require(try fixture.report("vgs", "vg", "vg_uuid,vg_extent_size,vg_seqno").first)
        let lvs = try fixture.report("lvs", "lv", "lv_name,lv_uuid,seg_start_pe,seg_size_pe,seg_pe_ranges,segtype,stripes")
        let device = try #require(fixture.device)

        let disk = try FileBlockReader(path: device)
        defer { try? disk.close() }
        let label = try #require(try LVMPhysicalVolumeLabel.read(disk, offset: 0, size: disk.size))
        #expect(label.sector == 1)
        #expect(label.uuid == pvs["pv_uuid"])
        #expect(label.deviceSize == disk.size)
        #expect(label.dataAreas.first?.offset == UInt64(pvs["pe_start"] ?? ""))
        #expect(label.metadataAreas.count == 1)

        let scan = LVMScan.scan(try DiskLayout.read(from: disk), disk: disk)
        #expect(scan.warnings.isEmpty)
        let group = try #require(scan.volumeGroup(vg))
        #expect(group.id == vgs["vg_uuid"])
        #expect(group.seqno == Int64(vgs["vg_seqno"] ?? ""))
        #expect(group.extentSize * 512 == UInt64(vgs["vg_extent_size"] ?? ""))
        #expect(group.physicalVolumes.map(\.peStart) == [UInt64(pvs["pe_start"] ?? "").map { $0 / 512 } ?? 0])

        // lvs prints one row per segment, in segment order.
        var ours: [[String: String]] = []
        for lv in group.logicalVolumes {
            for segment in lv.segments {
                let stripe = try #require(segment.stripes.first)
                ours.append(["lv_name": lv.name, "lv_uuid": lv.id, "seg_start_pe": "\(segment.startExtent)",
                             "seg_size_pe": "\(segment.extentCount)",
                             "seg_pe_ranges": "\(device):\(stripe.startExtent)-\(stripe.startExtent + segment.extentCount - 1)",
                             "segtype": segment.isLinear ? "linear" : segment.type, "stripes": "\(segment.stripes.count)"])
            }
        }
        func key(_ row: [String: String]) -> String { (row["lv_name"] ?? "") + "/" + (row["seg_start_pe"] ?? "") }
        #expect(ours.sorted { key($0) < key($1) } == lvs.sorted { key($0) < key($1) })
        #expect(group.logicalVolume("data")?.unsupportedKind == "linear in 2 segments")

        let root = try #require(group.logicalVolume("root"))
        let range = try scan.diskRange(group: group, volume: root)
        #expect(range.offset == UInt64(pvs["pe_start"] ?? "")! + 0)
        #expect(range.size == 12 << 20)
        let swap = try scan.diskRange(group: group, volume: try #require(group.logicalVolume("swap")))
        #expect(swap.offset == range.offset + (15 << 20))
        #expect(throws: LayoutError("LVM logical volume \(vg)/data is of unsupported kind linear in 2 segments")) {
            try scan.diskRange(group: group, volume: try #require(group.logicalVolume("data")))
        }

        // data: extents 12-14, then 19-20 after swap. Joined only where device-mapper can map several pieces.
        let pe = UInt64(pvs["pe_start"] ?? "")!
        let layout = try DiskLayout.read(from: disk)
        let withoutDM = try ImageVolumes.read(layout, disk: disk)
        #expect(withoutDM.unsupportedLogicalVolumes.first { $0.volume == "data" }?.kind
            == "linear in 2 segments, which needs device-mapper to join (this kernel has none)")
        let withDM = try ImageVolumes.read(layout, disk: disk, mapsSegments: true)
        let data = try #require(withDM.volumes.first { $0.source == .logicalVolume(group: vg, volume: "data") })
        #expect(data.pieces == [LVMDiskPiece(offset: pe + (12 << 20), size: 3 << 20, partition: 0),
                                LVMDiskPiece(offset: pe + (19 << 20), size: 2 << 20, partition: 0)])
        #expect(data.size == 5 << 20)
        let reader = LVMVolumeReader(disk: disk, pieces: data.pieces)
        #expect(try reader.read(at: (3 << 20) - 4, count: 8)
            == (try disk.read(at: pe + (15 << 20) - 4, count: 4)) + (try disk.read(at: pe + (19 << 20), count: 4)))
    }

    @Test(.enabled(if: LVMToolsFixture.requirements == nil, "\(LVMToolsFixture.requirements ?? "")"), .timeLimit(.minutes(3)))
    func fstabMapperNameResolvesToTheLogicalVolumeInAPartitionedImage() throws {
        let fixture = try LVMToolsFixture(sizeMiB: 32)
        defer { fixture.detach() }
        let vg = fixture.groupName + "-x"  // a '-' in the VG name: /dev/mapper doubles it
        try fixture.lvm("pvcreate", ["-ff", "-y", "$DEVICE"])
        try fixture.lvm("vgcreate", ["-s", "1m", vg, "$DEVICE"])
        try fixture.lvm("lvcreate", ["--driverloaded", "n", "-an", "-Zn", "-L", "16m", "-n", "root", vg])
        let peStart = try #require(UInt64(try fixture.report("pvs", "pv", "pe_start").first?["pe_start"] ?? ""))
        fixture.detach()

        // The LV's filesystem, written where lvs says its extents are; then the PV becomes partition 2 of a disk.
        let rootFS = fixture.directory.file("root.fs")
        try Command.check("/usr/bin/truncate", ["-s", "16M", rootFS])
        try Command.check(try ExecutableLookup.resolve("mkfs.ext4"), ["-q", "-F", "-L", "lvroot", "-U", "6a1e0000-0000-4000-8000-00000000abcd", rootFS])
        try Command.check("/bin/dd", ["if=\(rootFS)", "of=\(fixture.pvImage)", "bs=1M", "seek=\(peStart)", "oflag=seek_bytes", "conv=notrunc", "status=none"])
        let image = fixture.directory.file("disk.img")
        try Command.check("/usr/bin/truncate", ["-s", "48M", image])
        try Command.check(try ExecutableLookup.resolve("sgdisk"), ["-n", "1:2048:+8M", "-t", "1:8300", "-c", "1:boot",
                                                                  "-n", "2:18432:+32M", "-t", "2:8E00", "-c", "2:pv", image])
        try Command.check("/bin/dd", ["if=\(fixture.pvImage)", "of=\(image)", "bs=1M", "seek=9", "conv=notrunc", "status=none"])
        let disk = try FileBlockReader(path: image)
        defer { try? disk.close() }
        let layout = try DiskLayout.read(from: disk)
        let volumes = try ImageVolumes.read(layout, disk: disk)
        #expect(volumes.lvm.warnings.isEmpty, "\(volumes.lvm.warnings)")
        #expect(volumes.lvm.physicalVolumes.map(\.partitionNumber) == [2])
        let mapperName = vg.replacingOccurrences(of: "-", with: "--") + "-root"
        let plan = FstabMountPlan(fstab: "/dev/mapper/\(mapperName) / ext4 defaults 0 1\nLABEL=lvroot /mnt auto defaults 0 0\n")
        let resolved = try plan.mounts.map { try volumes.resolve($0).get() }
        #expect(resolved.map(\.volume.source) == [.logicalVolume(group: vg, volume: "root"), .logicalVolume(group: vg, volume: "root")])
        #expect(resolved.first?.volume.offset == (9 << 20) + peStart)
        #expect(resolved.first?.volume.filesystem?.uuid == "6a1e0000-0000-4000-8000-00000000abcd")
        #expect(resolved.last?.mountType == "ext4")
    }
}
