import NBDCore
import Testing
import TestSupport

/// Our parser against sfdisk on images built by the host's own tools.
@Suite(.serialized) struct LayoutFixtureTests {
    static func missing(_ spec: ImageSpec, loop: Bool = false) -> String? {
        Host.missing(programs: ImageFixtureCatalog.tools(for: spec) + ["sfdisk", "blkid"], root: loop, loop: loop)
    }

    func check(_ spec: ImageSpec, sectorSize: Int = 512) throws -> DiskLayout {
        let fixture = try ImageFixtures.build(spec)
        let layout = try DiskLayout.read(from: FileBlockReader(path: fixture.rawImage))
        let reference = try #require(try LayoutReference.sfdisk(fixture.rawImage, sectorSize: sectorSize))
        #expect(layout.sectorSize == reference.sectorSize)
        #expect(LayoutReference.ours(layout) == reference.partitions)
        #expect(layout.table.rawValue == (reference.label == "dos" ? "mbr" : reference.label))
        try checkFilesystems(layout, fixture)
        return layout
    }

    /// Each partition's probe agrees with blkid run on that partition's filesystem file.
    func checkFilesystems(_ layout: DiskLayout, _ fixture: ImageFixture) throws {
        for part in fixture.spec.partitions {
            let ours = layout.partitions.first { $0.number == part.number }?.filesystem
            guard part.filesystem != nil else {
                #expect(ours == nil)
                continue
            }
            let blkid = try LayoutReference.blkid(fixture.filesystemFile(part.number))
            #expect(ours?.type.rawValue == blkid["TYPE"], "partition \(part.number)")
            #expect(ours?.label == blkid["LABEL"], "partition \(part.number)")
            #expect(ours?.uuid == blkid["UUID"]?.lowercased() || ours?.uuid == blkid["UUID"], "partition \(part.number)")
        }
    }

    @Test(.enabled(if: missing(ImageFixtureCatalog.gptFourUnusualOrder) == nil, "needs sgdisk, sfdisk, blkid, mkfs tools"))
    func gptFourPartitionsOutOfOrder() throws {
        let layout = try check(ImageFixtureCatalog.gptFourUnusualOrder)
        #expect(layout.partitions.map(\.number) == [1, 2, 3, 4])
        #expect(layout.partitions.map { $0.name ?? "" } == ["root", "home", "EFI system", "swap"])
        #expect(layout.partitions[0].type.role == .root(.x86_64))
        #expect(layout.partitions[2].type.role == .esp)
        #expect(!layout.usedBackupGPT && layout.warnings.isEmpty)
        #expect(layout.defaultRootNumber == (Architecture.host == .x86_64 ? 1 : 1))
    }

    @Test(.enabled(if: missing(ImageFixtureCatalog.mbrWithLogicals) == nil, "needs sfdisk, blkid, mkfs tools"))
    func mbrWithLogicalPartitions() throws {
        let layout = try check(ImageFixtureCatalog.mbrWithLogicals)
        #expect(layout.partitions.map(\.number) == [1, 2, 3, 5, 6, 7])
        #expect(layout.partitions[2].isExtendedContainer)
        #expect(layout.defaultRootNumber == 2)
    }

    @Test(.enabled(if: missing(ImageFixtureCatalog.gptCorruptPrimary) == nil, "needs sgdisk, sfdisk, blkid, mkfs tools"))
    func gptWithCorruptPrimaryUsesBackup() throws {
        let layout = try check(ImageFixtureCatalog.gptCorruptPrimary)
        #expect(layout.usedBackupGPT)
        #expect(layout.warnings.contains { $0.contains("CRC32 mismatch") && $0.contains("backup") })
        #expect(layout.defaultRootNumber == 2)
    }

    @Test(.enabled(if: missing(ImageFixtureCatalog.gpt4KSectors, loop: true) == nil, "needs fdisk, sfdisk, blkid, root and a loop device"))
    func gptWith4KSectors() throws {
        let layout = try check(ImageFixtureCatalog.gpt4KSectors, sectorSize: 4096)
        #expect(layout.sectorSize == 4096)
        #expect(layout.partitions.map { $0.name ?? "" } == ["root4k", "swap4k"])
    }

    @Test(.enabled(if: missing(ImageFixtureCatalog.wholeDiskExt4) == nil, "needs sfdisk, blkid, mkfs.ext4"))
    func wholeDiskFilesystem() throws {
        let fixture = try ImageFixtures.build(ImageFixtureCatalog.wholeDiskExt4)
        let layout = try DiskLayout.read(from: FileBlockReader(path: fixture.rawImage))
        #expect(try LayoutReference.sfdisk(fixture.rawImage) == nil)
        #expect(layout.table == .none && layout.partitions.isEmpty)
        let blkid = try LayoutReference.blkid(fixture.rawImage)
        #expect(layout.wholeDiskFilesystem?.type.rawValue == blkid["TYPE"])
        #expect(layout.wholeDiskFilesystem?.label == blkid["LABEL"])
        #expect(layout.wholeDiskFilesystem?.uuid == blkid["UUID"])
        let volume = try layout.volume(mountPartition: nil)
        #expect(volume.number == 0 && volume.mountType == "ext4" && volume.size == layout.diskSize)
    }
}
