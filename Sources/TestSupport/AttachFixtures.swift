import Glibc
import NBDCore

/// Private, writable copies of a small GPT disk with one ext4 partition (layout's cached ImageFixtures),
/// as raw and as qcow2, for tests that attach and write.
public struct AttachFixture {
    public let directory: TemporaryDirectory
    public let raw: String
    public let qcow2: String
    /// Partition 1: where it starts and how long it is, in bytes.
    public let partitionOffset: UInt64 = 1 << 20
    public let partitionSize: UInt64 = 16 << 20

    static let spec = ImageSpec(table: .gpt(sectorSize: 512), diskMiB: 20, partitions: [
        FixturePartition(1, startMiB: 1, sizeMiB: 16, type: FixtureType.linux, name: "root", filesystem: .ext4("root")),
    ], files: ["etc/hostname": "attach\n"])
    public static var programs: [String] { ImageFixtureCatalog.tools(for: spec) + ["qemu-img"] }
    /// What `init` copies from the fixture cache, for a suite's `.prebuiltFixtures`.
    public static var specs: [ImageSpec] { [spec, spec.formatted(.qcow2)] }

    public init() throws {
        directory = try TemporaryDirectory("attach-fixture")
        raw = directory.file("disk.raw")
        qcow2 = directory.file("disk.qcow2")
        try Command.check("cp", ["--sparse=always", try ImageFixtures.build(Self.spec).image, raw])
        try Command.check("cp", ["--sparse=always", try ImageFixtures.build(Self.spec.formatted(.qcow2)).image, qcow2])
    }

    /// Partition 1 of an attached copy, found the way the product finds it.
    public func volume(of image: AttachedImage) throws -> Volume {
        try DiskLayout.read(from: image.disk).volume(mountPartition: 1)
    }

    /// Checks `device` holds partition 1 (its size, the ext4 magic at 1080), then writes `marker` at its
    /// start, where ext4 keeps 1024 unused bytes. Returns what the device read.
    public func writeMarker(_ marker: String, to device: String) throws -> (size: UInt64, magic: [UInt8]) {
        let volume = try FileBlockReader(path: device)
        let found = (volume.size, try volume.read(at: 1080, count: 2))
        let writer = try FileDescriptor.open(device, O_WRONLY)
        try writer.writeAll(Array(marker.utf8))
        try writer.close()
        return found
    }

    /// The qcow2 copy's virtual disk as raw bytes, to look at what an attach wrote.
    public func qcow2Contents(at offset: UInt64, count: Int) throws -> [UInt8] {
        let flat = try flatten(qcow2)
        defer { unlink(flat) }
        return try FileBlockReader(path: flat).read(at: offset, count: count)
    }

    /// `e2fsck -fn` of partition 1 of `image` (either copy): nil if clean, else what it reported.
    public func fsckProblems(_ image: String) throws -> String? {
        let flat = image == qcow2 ? try flatten(qcow2) : image
        defer { if flat != image { unlink(flat) } }
        let partition = directory.file("partition-\(UInt32.random(in: 0...UInt32.max)).ext4")
        defer { unlink(partition) }
        try Command.check("dd", ["if=\(flat)", "of=\(partition)", "bs=1M", "skip=\(partitionOffset >> 20)",
                                 "count=\(partitionSize >> 20)", "status=none"])
        let result = try Command.run("e2fsck", ["-fn", partition])
        return result.status.isSuccess ? nil : result.stdout + result.stderr
    }

    private func flatten(_ image: String) throws -> String {
        let flat = directory.file("flat-\(UInt32.random(in: 0...UInt32.max)).raw")
        try Command.check("qemu-img", ["convert", "-U", "-f", "qcow2", "-O", "raw", image, flat])
        return flat
    }
}
