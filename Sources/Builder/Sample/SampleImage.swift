import Glibc
import NBDCore

/// A small bootable-userland disk image for trying qemu-chroot without downloading a cloud image: a GPT
/// (written by the layout's GPTWriter) with an ext4 root made by `mkfs.ext4 -d` from a staged tree.
public enum SampleImage {
    public struct Options {
        public var size: UInt64 = 128 << 20
        /// debootstrap a minimal Debian instead of the busybox-static userland.
        public var debian = false
        public var format: ImageFormat = .qcow2
        /// A small ext4 partition 1 labelled "data" before the root (which is then partition 2), for
        /// trying `mount_partition`.
        public var dataPartition = false
        /// The root filesystem: ext4 (mkfs.ext4 -d) or btrfs (mkfs.btrfs --rootdir).
        public var filesystem = "ext4"
        /// The busybox-static program to install (default: the host's); one built for another architecture
        /// makes an image of that architecture, whose root partition gets that architecture's DPS type.
        public var busybox: String?

        public init() {}
    }

    static let linuxFilesystem = "0fc63daf-8483-4772-8e79-3d69d8477de4"
    static let mebibyte: UInt64 = 1 << 20

    public static func make(at path: String, options: Options) throws {
        guard !HostPath.exists(path) else { throw BuildError("\(path) already exists; choose another path or remove it") }
        guard ExecutableLookup.exists("mkfs.ext4") else { throw BuildError("mkfs.ext4 not found (Debian: apt-get install e2fsprogs)") }
        let work = "\(path).tmp-\(getpid())"
        try FileTree.makeDirectories(work)
        defer { try? FileTree.removeAll(work) }
        let root = "\(work)/root"
        if options.debian {
            try SampleUserland.debootstrap(into: root)
        } else {
            try SampleUserland.busybox(into: root, program: options.busybox)
        }
        let raw = "\(work)/disk.raw"
        try layOut(raw, root: root, work: work, options: options)
        switch options.format {
        case .raw: try syscall("rename", path: path) { rename(raw, path) }
        case .qcow2:
            try Command.check("qemu-img", ["convert", "-q", "-f", "raw", "-O", "qcow2", raw, "\(work)/disk.qcow2"])
            try syscall("rename", path: path) { rename("\(work)/disk.qcow2", path) }
        }
    }

    private static func layOut(_ raw: String, root: String, work: String, options: Options) throws {
        let size = options.size / mebibyte * mebibyte
        let dataSize: UInt64 = options.dataPartition ? 16 * mebibyte : 0
        let rootStart = mebibyte + dataSize
        // The backup GPT takes the last 33 sectors; leave the last MiB to it.
        guard size >= rootStart + 32 * mebibyte else { throw BuildError("a sample image needs at least \((rootStart >> 20) + 32) MiB") }
        let rootSize = size - rootStart - mebibyte
        var partitions: [GPTPartitionSpec] = []
        if options.dataPartition {
            partitions.append(GPTPartitionSpec(type: GUID(linuxFilesystem)!, name: "data", start: mebibyte, size: dataSize))
        }
        partitions.append(GPTPartitionSpec(type: GUID(try rootType(root))!, name: "root", start: rootStart, size: rootSize))
        let disk = try FileDescriptor.open(raw, O_RDWR | O_CREAT | O_TRUNC, mode: 0o644)
        try syscall("ftruncate", path: raw) { ftruncate(disk.rawValue, off_t(size)) }
        for write in try GPTWriter.fresh(diskSize: size, partitions: partitions) {
            try write.bytes.withUnsafeBytes { try disk.pwriteAll($0, at: write.offset) }
        }
        try disk.close()
        if options.dataPartition {
            let data = "\(work)/data"
            try FileTree.makeDirectories(data)
            try SampleUserland.write("\(data)/PARTITION", "data\n")
            try makeExt4(raw, label: "data", tree: data, offset: mebibyte, size: dataSize)
        }
        if options.filesystem == "btrfs" {
            try makeBtrfs(raw, work: work, tree: root, offset: rootStart, size: rootSize)
        } else {
            try makeExt4(raw, label: "root", tree: root, offset: rootStart, size: rootSize)
        }
    }

    /// The DPS root type of the architecture the staged tree's /bin/sh is for.
    private static func rootType(_ root: String) throws -> String {
        let image = ImageArchitecture.detect(in: RootedPath(root: root))
        guard let architecture = image.architecture, let type = PartitionType.rootType(for: architecture) else {
            throw BuildError("the sample root's architecture has no DPS root type: \(image.evidence)")
        }
        return type
    }

    /// mkfs.btrfs has no offset option: the filesystem is made in a file and copied into place, holes kept.
    private static func makeBtrfs(_ raw: String, work: String, tree: String, offset: UInt64, size: UInt64) throws {
        guard ExecutableLookup.exists("mkfs.btrfs") else { throw BuildError("mkfs.btrfs not found (Debian: apt-get install btrfs-progs)") }
        let image = "\(work)/root.btrfs"
        let file = try FileDescriptor.open(image, O_RDWR | O_CREAT | O_TRUNC, mode: 0o644)
        try syscall("ftruncate", path: image) { ftruncate(file.rawValue, off_t(size)) }
        try file.close()
        try Command.check("mkfs.btrfs", ["-q", "-L", "root", "--rootdir", tree, image])
        let source = try FileDescriptor.open(image, O_RDONLY)
        let disk = try FileDescriptor.open(raw, O_WRONLY)
        var position: UInt64 = 0
        while true {
            let chunk = try source.read(count: 1 << 20)
            if chunk.isEmpty { break }
            if chunk.contains(where: { $0 != 0 }) {
                try chunk.withUnsafeBytes { try disk.pwriteAll($0, at: offset + position) }
            }
            position += UInt64(chunk.count)
        }
        try source.close()
        try disk.close()
    }

    private static func makeExt4(_ raw: String, label: String, tree: String, offset: UInt64, size: UInt64) throws {
        try Command.check("mkfs.ext4", ["-q", "-F", "-L", label, "-E", "offset=\(offset)", "-d", tree, raw, "\(size >> 10)k"],
                          environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "E2FSPROGS_FAKE_TIME": "0"])
    }
}
