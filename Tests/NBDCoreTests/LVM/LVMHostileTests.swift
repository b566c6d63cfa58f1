@testable import ImageLayout
import Testing

/// Damaged and hostile LVM2 structures: every one is refused with a sentence, none traps or over-allocates.
struct LVMHostileTests {
    static let metadata = """
        vg0 {
        id = "Vg0Vg0-0000-0000-0000-0000-0000-000000"
        seqno = 3
        format = "lvm2" # a comment
        status = ["RESIZEABLE", "READ", "WRITE"]
        extent_size = 8192
        physical_volumes {
        pv0 {
        id = "PvPvPv-0000-0000-0000-0000-0000-000000"
        device = "/dev/sda2"
        pe_start = 2048
        pe_count = 10
        }
        }
        logical_volumes {
        root {
        id = "LvLvLv-0000-0000-0000-0000-0000-000000"
        status = ["READ", "WRITE", "VISIBLE"]
        segment_count = 1
        segment1 {
        start_extent = 0
        extent_count = 6
        type = "striped"
        stripe_count = 1 # linear
        stripes = [
        "pv0", 2
        ]
        }
        }
        pool {
        id = "x"
        status = ["READ"]
        segment1 {
        start_extent = 0
        extent_count = 2
        type = "thin-pool"
        }
        }
        }
        }
        contents = "Text Format Volume Group"
        description = "Created \\"by\\" a test"
        version = 1
        """

    static let mdaOffset: UInt64 = 4096, mdaSize: UInt64 = 16384

    /// A PV of `size` bytes: label in sector 1, one data area at 1 MiB, one metadata area whose text starts at
    /// `textOffset` of the area (so it can be made to wrap).
    static func physicalVolume(text: String = metadata, textOffset: UInt64 = 512, size: Int = 2 << 20) -> MemoryDisk {
        var bytes = [UInt8](repeating: 0, count: size)
        var label = [UInt8](repeating: 0, count: 512)
        label.put(Array("LABELONE".utf8), at: 0)
        label.putLE64(1, at: 8)
        label.putLE32(32, at: 20)
        label.put(Array("LVM2 001".utf8), at: 24)
        label.put(Array("PvPvPv00000000000000000000000000".utf8), at: 32)
        label.putLE64(UInt64(size), at: 64)
        label.putLE64(1 << 20, at: 72)  // data area, then its terminator at 88
        label.putLE64(mdaOffset, at: 104)
        label.putLE64(mdaSize, at: 112)  // metadata area, then its terminator at 120
        label.putLE32(LVMPhysicalVolumeLabel.checksum(label[20..<512]), at: 16)
        bytes.put(label, at: 512)

        let textBytes = Array(text.utf8)
        var header = [UInt8](repeating: 0, count: 512)
        header.put(LVMMetadataArea.magic, at: 4)
        header.putLE32(1, at: 20)
        header.putLE64(mdaOffset, at: 24)
        header.putLE64(mdaSize, at: 32)
        header.putLE64(textOffset, at: 40)
        header.putLE64(UInt64(textBytes.count), at: 48)
        header.putLE32(LVMPhysicalVolumeLabel.checksum(textBytes), at: 56)
        header.putLE32(LVMPhysicalVolumeLabel.checksum(header[4..<512]), at: 0)
        bytes.put(header, at: Int(mdaOffset))
        for (i, byte) in textBytes.enumerated() {
            var position = textOffset + UInt64(i)
            if position >= mdaSize { position = position - mdaSize + 512 }
            bytes[Int(mdaOffset + position)] = byte
        }
        return MemoryDisk(bytes: bytes)
    }

    static func group(_ disk: MemoryDisk) throws -> LVMVolumeGroup {
        let label = try #require(try LVMPhysicalVolumeLabel.read(disk, offset: 0, size: disk.size))
        let area = try LVMMetadataArea.read(disk, pvOffset: 0, area: try #require(label.metadataAreas.first))
        return try LVMVolumeGroup(metadata: try #require(try area.text(disk, pvOffset: 0)))
    }

    @Test func wellFormedPhysicalVolumeReads() throws {
        let group = try Self.group(Self.physicalVolume())
        #expect(group.name == "vg0" && group.seqno == 3 && group.extentSize == 8192)
        let root = try #require(group.logicalVolume("root"))
        let range = try group.extentRange(of: root)
        #expect(range.offset == (2048 + 2 * 8192) * 512)
        #expect(range.size == 6 * 8192 * 512)
        #expect(group.logicalVolume("pool")?.unsupportedKind == "thin-pool")
        #expect(throws: LayoutError("LVM logical volume vg0/pool is of unsupported kind thin-pool")) {
            try group.extentRange(of: try #require(group.logicalVolume("pool")))
        }
    }

    @Test func metadataThatWrapsAroundTheCircularBufferReadsTheSame() throws {
        let straight = try Self.group(Self.physicalVolume())
        let wrapped = try Self.group(Self.physicalVolume(textOffset: Self.mdaSize - 100))
        #expect(wrapped == straight)
    }

    @Test func badLabelChecksumIsRefused() throws {
        let disk = Self.physicalVolume()
        disk.apply([DiskWrite(offset: 512 + 40, bytes: [0x58])])
        #expect(throws: LayoutError.self) { try LVMPhysicalVolumeLabel.read(disk, offset: 0, size: disk.size) }
        do {
            _ = try LVMPhysicalVolumeLabel.read(disk, offset: 0, size: disk.size)
        } catch {
            #expect("\(error)".contains("bad checksum"))
        }
    }

    @Test func truncatedLabelIsNoLabelAndAnUnterminatedHeaderIsRefused() throws {
        let short = MemoryDisk(bytes: Array(try Self.physicalVolume().read(at: 0, count: 700)))
        #expect(try LVMPhysicalVolumeLabel.read(short, offset: 0, size: short.size) == nil)

        // Data-area entries to the end of the sector, no terminator, and a checksum that matches.
        var sector = try Self.physicalVolume().read(at: 512, count: 512)
        for position in stride(from: 72, to: 512, by: 16) { sector.putLE64(1 << 20, at: position) }
        sector.putLE32(LVMPhysicalVolumeLabel.checksum(sector[20..<512]), at: 16)
        #expect(throws: LayoutError("the LVM PV header in sector 1 has a data area list that runs past the sector")) {
            try LVMPhysicalVolumeLabel.parse(sector, sector: 1)
        }
    }

    @Test func badMetadataChecksumsAreRefused() throws {
        let headerDamaged = Self.physicalVolume()
        headerDamaged.apply([DiskWrite(offset: Self.mdaOffset + 100, bytes: [1])])
        #expect(throws: LayoutError.self) { try Self.group(headerDamaged) }
        let textDamaged = Self.physicalVolume()
        textDamaged.apply([DiskWrite(offset: Self.mdaOffset + 520, bytes: [0x21])])
        #expect(throws: LayoutError.self) { try Self.group(textDamaged) }
    }

    @Test func hugeSizesAreRefusedWithoutAllocating() throws {
        // A metadata area claiming more than the disk.
        let disk = Self.physicalVolume()
        var header = try disk.read(at: Self.mdaOffset, count: 512)
        header.putLE64(UInt64.max / 2, at: 32)
        header.putLE64(UInt64.max / 4, at: 48)
        header.putLE32(LVMPhysicalVolumeLabel.checksum(header[4..<512]), at: 0)
        disk.apply([DiskWrite(offset: Self.mdaOffset, bytes: header)])
        #expect(throws: LayoutError.self) { try Self.group(disk) }

        // Extents whose byte offset overflows 64 bits.
        let huge = Self.metadata.replacingOccurrences(of: "extent_size = 8192", with: "extent_size = 9223372036854775807")
            .replacingOccurrences(of: "pe_count = 10", with: "pe_count = 9223372036854775807")
        let group = try LVMVolumeGroup(metadata: huge)
        #expect(throws: LayoutError("LVM logical volume vg0/root has a size that does not fit in 64 bits")) {
            try group.extentRange(of: try #require(group.logicalVolume("root")))
        }
        #expect(throws: LayoutError.self) { try LVMConfigParser.parse("a = 99999999999999999999999") }
    }

    @Test(arguments: [
        ("vg0 {\nid = \"x\"\n", "LVM metadata line 3: a section is not closed with '}'"),
        ("a = 1\n}\n", "LVM metadata line 2: '}' without a matching '{'"),
        ("a = [1, 2\n", "LVM metadata line 2: a list is not closed with ']'"),
        ("a = \"open\n", "LVM metadata line 2: a string is not closed with '\"'"),
        ("a b\n", "LVM metadata line 1: 'a' is followed by neither '=' nor '{'"),
        ("= 1\n", "LVM metadata line 1: unexpected '=' where a name should be"),
    ])
    func malformedTextNamesTheLine(_ text: String, _ message: String) {
        #expect(throws: LayoutError(message)) { try LVMConfigParser.parse(text) }
    }

    @Test func deepNestingIsRefused() {
        let deep = String(repeating: "a {\n", count: 100) + String(repeating: "}\n", count: 100)
        #expect(throws: LayoutError.self) { try LVMConfigParser.parse(deep) }
        let lists = "a = " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: LayoutError.self) { try LVMConfigParser.parse(lists) }
    }

    @Test func escapesInStringsAreDecoded() throws {
        let root = try LVMConfigParser.parse(Self.metadata)
        #expect(root.string("description") == "Created \"by\" a test")
        #expect(root.section("vg0")?.strings("status") == ["RESIZEABLE", "READ", "WRITE"])
    }
}
