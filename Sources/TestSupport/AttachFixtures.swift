import Glibc
import NBDCore

/// A small GPT disk with one ext4 partition, made with mkfs.ext4 -d, sgdisk and qemu-img, as raw and qcow2.
/// Used by the attach tests until layout's ImageFixtures serve the same purpose.
public struct AttachFixture {
    public let directory: TemporaryDirectory
    public let raw: String
    public let qcow2: String
    /// Partition 1: where it starts and how long it is, in bytes.
    public let partitionOffset: UInt64 = 1 << 20
    public let partitionSize: UInt64 = 16 << 20
    public static let programs = ["mkfs.ext4", "sgdisk", "qemu-img"]

    public init() throws {
        directory = try TemporaryDirectory("attach-fixture")
        raw = directory.file("disk.raw")
        qcow2 = directory.file("disk.qcow2")
        let content = directory.file("content")
        mkdir(content, 0o755)
        let hello = try FileDescriptor.open("\(content)/hello", O_WRONLY | O_CREAT, mode: 0o644)
        try hello.writeAll(Array("hello from the fixture\n".utf8))
        try hello.close()
        let filesystem = directory.file("root.ext4")
        try Command.check("mkfs.ext4", ["-q", "-F", "-L", "root", "-d", content, filesystem, "16M"])
        try Command.check("truncate", ["-s", "\((partitionOffset + partitionSize) / 1024 + 1024)K", raw])
        try Command.check("sgdisk", ["-n", "1:2048:+16M", "-t", "1:8304", raw])
        try Command.check("dd", ["if=\(filesystem)", "of=\(raw)", "bs=1M", "seek=1", "conv=notrunc", "status=none"])
        try Command.check("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, qcow2])
    }

    /// A copy of the qcow2 image as raw bytes, to look at what the attach wrote.
    public func qcow2Contents(at offset: UInt64, count: Int) throws -> [UInt8] {
        let flat = directory.file("flat-\(UInt32.random(in: 0...UInt32.max)).raw")
        try Command.check("qemu-img", ["convert", "-U", "-f", "qcow2", "-O", "raw", qcow2, flat])
        defer { unlink(flat) }
        return try FileBlockReader(path: flat).read(at: offset, count: count)
    }
}
