@testable import ImageLayout
import NBDCore
import Testing
import TestSupport

/// The UUIDs and labels fstab names volumes by, read from filesystems made by the host's mkfs tools.
@Suite(.serialized) struct LayoutFilesystemIdentityTests {
    static let tools = ["mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "mkfs.vfat"]

    @Test(.enabled(if: Host.missing(programs: tools) == nil, "needs mkfs.ext4, mkfs.xfs, mkfs.btrfs, mkfs.vfat (run scripts/setup)"),
          .timeLimit(.minutes(2)))
    func probeReadsUUIDAndLabelOfEachFilesystem() throws {
        let dir = try TemporaryDirectory()
        let cases: [(String, [String], Int, FilesystemInfo)] = [
            ("mkfs.ext4", ["-q", "-F", "-L", "cloudimg-rootfs", "-U", "5a2f36c9-7c5d-4b09-bb1b-b5f5f8a6e0d1"], 16,
             FilesystemInfo(type: .ext4, label: "cloudimg-rootfs", uuid: "5a2f36c9-7c5d-4b09-bb1b-b5f5f8a6e0d1")),
            ("mkfs.xfs", ["-q", "-f", "-L", "boot", "-m", "uuid=c6e0e1a2-1111-4000-8000-000000000003"], 300,
             FilesystemInfo(type: .xfs, label: "boot", uuid: "c6e0e1a2-1111-4000-8000-000000000003")),
            ("mkfs.btrfs", ["-q", "-f", "-L", "fedora", "-U", "f0000000-2222-4000-8000-000000000004"], 128,
             FilesystemInfo(type: .btrfs, label: "fedora", uuid: "f0000000-2222-4000-8000-000000000004")),
            ("mkfs.vfat", ["-F", "32", "-n", "UEFI", "-i", "A1B2C3D4"], 40,
             FilesystemInfo(type: .vfat, label: "UEFI", uuid: "A1B2-C3D4")),
        ]
        for (tool, arguments, mib, expected) in cases {
            let file = dir.file("\(tool).img")
            try Command.check("/usr/bin/truncate", ["-s", "\(mib)M", file])
            try Command.check(try ExecutableLookup.resolve(tool), arguments + [file])
            let reader = try FileBlockReader(path: file)
            defer { try? reader.close() }
            #expect(try FilesystemProbe.probe(reader, offset: 0, size: reader.size) == expected, "\(tool)")
        }
    }
}
