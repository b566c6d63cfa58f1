import Glibc
import NBDCore
import TestSupport

/// Where the kernel-nbd tests can run: root, the nbd driver, qemu-nbd, and the images scripts/vm-nbd made on the
/// host (VMTEST_WORK), so the host can check them after the VM powers off.
enum KernelVM {
    static var work: String? { getenv("VMTEST_WORK").map { String(cString: $0) } }

    static var missing: String? {
        if let reason = Host.missing(programs: ["qemu-nbd"], root: true, nbd: true) { return reason }
        if work == nil { return "needs the images made by scripts/vm-nbd test (VMTEST_WORK); run make vm-test" }
        return nil
    }

    static func image(_ name: String) -> String { "\(work ?? "/nonexistent")/\(name)" }

    /// Partition `number`'s byte range from the GPT on `device` (512-byte sectors, entries at LBA 2).
    static func gptPartition(_ number: Int, on device: FileDescriptor) throws -> (start: UInt64, size: UInt64) {
        var entry = [UInt8](repeating: 0, count: 128)
        _ = try entry.withUnsafeMutableBytes { try device.pread(into: $0, at: 1024 + UInt64(number - 1) * 128) }
        func u64(_ at: Int) -> UInt64 { entry[at..<(at + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        return (u64(32) * 512, (u64(40) - u64(32) + 1) * 512)
    }

    /// mount(2) of an ext4 node on a fresh directory, `body`, then umount2(2); the directory goes with `scratch`.
    static func withMountedExt4(_ node: String, readOnly: Bool = false, _ body: (String) throws -> Void) throws {
        let scratch = try TemporaryDirectory("kernel-mount")
        let target = scratch.file("root")
        try syscall("mkdir", path: target) { mkdir(target, 0o755) }
        try syscall("mount", path: node) { mount(node, target, "ext4", readOnly ? UInt(MS_RDONLY) : 0, nil) }
        defer { _ = umount2(target, 0) }
        try body(target)
        try syscall("umount2", path: target) { umount2(target, 0) }
    }

    static func writeFile(_ path: String, _ text: String) throws {
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        try fd.writeAll(Array(text.utf8))
        try syscall("fsync", path: path) { fsync(fd.rawValue) }
        try fd.close()
    }

    static func readFile(_ path: String) throws -> String {
        String(decoding: try FileDescriptor.open(path, O_RDONLY).read(count: 4096), as: UTF8.self)
    }

    /// A kernel request for every connection of `export`.
    static func request(_ export: KernelTestExport, connections: Int = 1, readOnly: Bool = false,
                        identifier: String? = nil, index: Int? = nil, timeout: UInt64 = 30) throws -> NBDKernelRequest {
        let connected = try (0..<connections).map { _ in try export.connect() }
        return NBDKernelRequest(sockets: connected.map(\.socket), size: connected[0].size, blockSize: 512,
                                serverFlags: connected[0].flags, readOnly: readOnly, timeoutSeconds: timeout,
                                backendIdentifier: identifier,
                                deviceIndex: index)
    }
}
