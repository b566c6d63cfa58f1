import Glibc
import NBDCore
@testable import ImageLayout
@testable import QemuTools
@testable import HostSystem
import Testing
import TestSupport

/// Image-header and filesystem probes on synthetic bytes and on qemu-img's own output.
struct LayoutProbeTests {
    @Test(.enabled(if: Host.missing(programs: ["qemu-img"]) == nil, "needs qemu-img"))
    func qcow2HeaderGivesFormatSizeAndBackingFile() throws {
        let dir = try TemporaryDirectory()
        let base = dir.file("base.qcow2"), overlay = dir.file("overlay.qcow2"), raw = dir.file("disk.raw")
        try Command.check("qemu-img", ["create", "-q", "-f", "qcow2", base, "100M"])
        try Command.check("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, overlay])
        try Command.check("truncate", ["-s", "3M", raw])
        #expect(try ImageProbe.probe(path: base) == ImageInfo(path: base, format: .qcow2, virtualSize: 100 << 20, backingFile: nil))
        #expect(try ImageProbe.probe(path: overlay).backingFile == base)
        #expect(try ImageProbe.probe(path: raw) == ImageInfo(path: raw, format: .raw, virtualSize: 3 << 20, backingFile: nil))
    }

    @Test func truncatedQcow2HeaderNamesTheFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("short.qcow2")
        let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT)
        try file.writeAll([0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3])
        try file.close()
        #expect(throws: LayoutError("\(path): corrupt QCOW2 header: the file ends after 8 bytes")) {
            try ImageProbe.probe(path: path)
        }
    }

    func volumeBytes(_ edits: [(Int, [UInt8])]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: FilesystemProbe.probeLength)
        for (offset, data) in edits { bytes.put(data, at: offset) }
        return bytes
    }

    @Test func unmountableContentIsRecognisedAndRefused() {
        #expect(FilesystemProbe.probe(volumeBytes([(0, [0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE])]))?.type == .luks)
        #expect(FilesystemProbe.probe(volumeBytes([(512, Array("LABELONE".utf8)), (536, Array("LVM2 001".utf8))]))?.type == .lvm2)
        #expect(FilesystemProbe.probe(volumeBytes([(0, Array("hsqs".utf8))]))?.type == .squashfs)
        #expect(FilesystemProbe.probe(volumeBytes([(4086, Array("SWAPSPACE2".utf8))]))?.isMountable == false)
        #expect(FilesystemProbe.probe(volumeBytes([])) == nil)
    }

    @Test func extVersionFollowsFeatureFlags() {
        let magic = (1080, [UInt8]([0x53, 0xEF]))
        #expect(FilesystemProbe.probe(volumeBytes([magic]))?.type == .ext2)
        #expect(FilesystemProbe.probe(volumeBytes([magic, (1116, [0x04])]))?.type == .ext3)
        #expect(FilesystemProbe.probe(volumeBytes([magic, (1116, [0x04]), (1120, [0x40])]))?.type == .ext4)  // extents
        #expect(FilesystemProbe.probe(volumeBytes([magic]))?.mountType == "ext4")
    }

    @Test func swapPartitionIsNotAMountPartition() throws {
        let size = 16 << 20
        let disk = MemoryDisk(bytes: [UInt8](repeating: 0, count: size))
        let swapType = try #require(GUID("0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"))
        disk.apply(try GPTWriter.fresh(diskSize: UInt64(size), partitions: [GPTPartitionSpec(type: swapType)]))
        disk.apply([DiskWrite(offset: (1 << 20) + 4086, bytes: Array("SWAPSPACE2".utf8))])
        let layout = try DiskLayout.read(from: disk)
        #expect(throws: LayoutError("mount_partition 1 holds swap space, not a mountable filesystem; this disk has partition 1 (swap)")) {
            try layout.volume(mountPartition: 1)
        }
    }
}
