import Glibc
import NBDCore
import TestSupport

/// Runs `body` on a dedicated thread that has entered its own private mount namespace, and waits for it.
///
/// Why a thread: the Swift test runner is multi-threaded, and unshare(CLONE_NEWNS) moves only the calling
/// thread. This thread does all the mounting, spawns the chroot commands (children inherit its namespace)
/// and unmounts; the rest of the test process stays in the host namespace, which lets tests check that
/// nothing leaks into the host's /proc/self/mountinfo. When the thread ends, its namespace goes with it.
func inPrivateMountNamespace<T>(_ body: () throws -> T) throws -> T {
    try HostThread.run(name: "private mount namespace") {
        try MountNamespace.privatizeCurrentThread()
        return try body()
    }
}

/// Whether `path` appears as a mount point in a mountinfo file.
func mountinfo(_ file: String = "/proc/self/mountinfo", contains path: String) -> Bool {
    guard let fd = try? FileDescriptor.open(file, O_RDONLY), let bytes = try? fd.read(count: 1 << 22) else { return false }
    return String(decoding: bytes, as: UTF8.self).split(separator: "\n").contains {
        $0.split(separator: " ").dropFirst(4).first.map(String.init) == path
    }
}

/// A raw ext4 image with busybox as its userland, attached to a loop device that the test made itself
/// (`losetup --find --show`) and detaches by its exact path.
final class BusyboxImage {
    static let applets = ["sh", "cat", "ls", "sleep", "echo", "test", "mkdir", "rm", "stat", "id", "kill", "wc",
                          "grep", "head", "true", "false", "env", "readlink", "touch", "tty", "ps"]
    static let requirements = Host.missing(programs: ["busybox", "mkfs.ext4", "losetup", "debugfs"], root: true, loop: true)

    let directory: TemporaryDirectory
    let imagePath: String
    let device: String
    var mountPath: String { directory.file("mnt") }

    /// `customize` gets the seed directory (the future image root) before mkfs.
    init(customize: (String) throws -> Void = { _ in }) throws {
        directory = try TemporaryDirectory("qemu-chroot-chroot-test")
        imagePath = directory.file("root.img")
        try Self.makeFilesystem(imagePath, seed: directory.file("seed"), customize: customize)
        device = try Command.check(try ExecutableLookup.resolve("losetup"), ["--find", "--show", imagePath]).trimmingWhitespace()
    }

    /// A 60 MiB ext4 filesystem image holding busybox as /bin/sh and a few applets.
    static func makeFilesystem(_ path: String, seed: String, customize: (String) throws -> Void = { _ in }) throws {
        for dir in ["bin", "etc", "root", "proc", "sys", "dev", "tmp"] {
            try Command.check("/bin/mkdir", ["-p", "\(seed)/\(dir)"])
        }
        try Command.check("/bin/cp", [try ExecutableLookup.resolve("busybox"), "\(seed)/bin/busybox"])
        for applet in applets { symlink("busybox", "\(seed)/bin/\(applet)") }
        try customize(seed)
        try Command.check("/usr/bin/truncate", ["-s", "60M", path])
        try Command.check(try ExecutableLookup.resolve("mkfs.ext4"), ["-q", "-F", "-d", seed, path])
    }

    /// A file's contents read straight from the image with debugfs, without mounting it.
    func read(_ path: String) throws -> String {
        try Command.check(try ExecutableLookup.resolve("debugfs"), ["-R", "cat \(path)", imagePath])
    }

    deinit {
        _ = try? Command.run(try ExecutableLookup.resolve("losetup"), ["-d", device])
    }
}

/// A qcow2 disk whose root filesystem holds busybox: what `qemu-chroot shell` attaches in the end-to-end
/// tests. The filesystem sits in GPT partition 1 (type Linux root x86-64), in logical partition 5 of an MBR,
/// or on the whole disk.
final class BusyboxDisk {
    enum Table: String, CaseIterable, Sendable { case gpt, mbrLogical, none }
    enum Filesystem: String, CaseIterable, Sendable { case ext4, xfs, btrfs }

    static let requirements = Host.missing(programs: ["busybox", "mkfs.ext4", "sgdisk", "sfdisk", "qemu-img",
                                                      "qemu-storage-daemon"], root: true, loop: true, fuse: true)
    let directory: TemporaryDirectory
    let path: String

    init(table: Table = .gpt, filesystem: Filesystem = .ext4) throws {
        directory = try TemporaryDirectory("qemu-chroot-shell-test")
        let fs = directory.file("fs.img")
        let seed = directory.file("seed")
        try BusyboxImage.makeFilesystem(fs, seed: seed)
        let sizeMiB = [.ext4: 60, .btrfs: 128, .xfs: 320][filesystem]!
        if filesystem != .ext4 { try Self.remake(fs, as: filesystem, sizeMiB: sizeMiB, seed: seed) }
        let raw = directory.file("disk.raw")
        let offsetMiB: Int
        switch table {
        case .none:
            try Command.check("/bin/mv", [fs, raw])
            offsetMiB = -1
        case .gpt:
            try Command.check("/usr/bin/truncate", ["-s", "\(sizeMiB + 4)M", raw])
            try Command.check(try ExecutableLookup.resolve("sgdisk"), ["-n", "1:2048:+\(sizeMiB)M", "-t", "1:8304", raw])
            offsetMiB = 1
        case .mbrLogical:
            // p1 a small Linux partition without a filesystem, p2 extended, p5 the root, logical.
            try Command.check("/usr/bin/truncate", ["-s", "\(sizeMiB + 8)M", raw])
            let script = "label: dos\nstart=1M, size=2M, type=83\nstart=4M, type=5\nstart=5M, size=\(sizeMiB)M, type=83\n"
            let input = directory.file("sfdisk.in")
            try write(script, to: input)
            try Command.check("/bin/sh", ["-c", "sfdisk -q \(raw) < \(input)"])
            offsetMiB = 5
        }
        if offsetMiB >= 0 {
            try Command.check("/bin/dd", ["if=\(fs)", "of=\(raw)", "bs=1M", "seek=\(offsetMiB)", "conv=notrunc", "status=none"])
        }
        path = directory.file("disk.qcow2")
        try Command.check(try ExecutableLookup.resolve("qemu-img"), ["convert", "-O", "qcow2", raw, path])
        unlink(raw)
        unlink(fs)
    }

    /// Replaces the ext4 file with an xfs or btrfs one holding the same seed (xfs has no populate option,
    /// so it is filled through a loop mount in a throw-away mount namespace).
    private static func remake(_ fs: String, as filesystem: Filesystem, sizeMiB: Int, seed: String) throws {
        unlink(fs)
        try Command.check("/usr/bin/truncate", ["-s", "\(sizeMiB)M", fs])
        switch filesystem {
        case .btrfs:
            try Command.check(try ExecutableLookup.resolve("mkfs.btrfs"), ["-q", "-f", "--rootdir", seed, fs])
        case .xfs:
            try Command.check(try ExecutableLookup.resolve("mkfs.xfs"), ["-q", "-f", fs])
            try Command.check("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-ec",
                "mkdir -p \"$1.mnt\"; mount -o loop \"$1\" \"$1.mnt\"; cp -a \"$2/.\" \"$1.mnt/\"; umount \"$1.mnt\"; rmdir \"$1.mnt\"",
                "_", fs, seed])
        case .ext4:
            break
        }
    }
}

/// The `qemu-chroot` executable built next to this test bundle.
enum QemuChrootBinary {
    static var path: String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        var directory = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // …/debug/qemu-chrootPackageTests.xctest, or a file inside a bundle directory.
        while !directory.isEmpty {
            directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
            let candidate = directory + "/qemu-chroot"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
