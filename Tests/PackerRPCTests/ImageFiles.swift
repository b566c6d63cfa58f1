import Glibc
import NBDCore
import TestSupport

/// Reads files out of a finished image without mounting it: qemu-img converts it to raw, the layout
/// reader finds the root (last) partition, and debugfs (e2fsprogs) prints files from it.
final class ImageFiles {
    private let work: TemporaryDirectory
    private let partition: String

    init(_ image: String) throws {
        work = try TemporaryDirectory("packer-image-files")
        let raw = work.file("disk.raw")
        try Command.check(ExecutableLookup.resolve("qemu-img"), ["convert", "-q", "-O", "raw", image, raw])
        let layout = try DiskLayout.read(from: try FileBlockReader(path: raw))
        let mebibyte: UInt64 = 1 << 20
        guard let root = layout.partitions.last, root.start % mebibyte == 0, root.size % mebibyte == 0 else {
            throw BuildFailure("no MiB-aligned root partition in \(image)")
        }
        partition = work.file("root.ext4")
        try Command.check("/bin/dd", ["if=\(raw)", "of=\(partition)", "bs=1M", "skip=\(root.start / mebibyte)",
                                      "count=\(root.size / mebibyte)", "status=none"])
    }

    /// The file's content, or nil when it does not exist.
    func read(_ path: String) throws -> String? {
        let result = try Command.run(ExecutableLookup.resolve("debugfs"), ["-R", "cat \(path)", partition])
        if result.stderr.contains("File not found") { return nil }
        return result.stdout
    }
}

struct BuildFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
