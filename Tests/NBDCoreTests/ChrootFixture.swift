import Glibc
import NBDCore
import TestSupport

/// Runs `body` on a dedicated thread that has entered its own private mount namespace, and waits for it.
///
/// Why a thread: the Swift test runner is multi-threaded, and unshare(CLONE_NEWNS) moves only the calling
/// thread. This thread does all the mounting, spawns the chroot commands (children inherit its namespace)
/// and unmounts; the rest of the test process stays in the host namespace, which lets tests check that
/// nothing leaks into the host's /proc/self/mountinfo. When the thread ends, its namespace goes with it.
func inPrivateMountNamespace<T>(_ body: @escaping () throws -> T) throws -> T {
    var result: Result<T, Error>?
    let box = ThreadBody { result = Result { try MountNamespace.privatizeCurrentThread(); return try body() } }
    var thread = pthread_t()
    let started = pthread_create(&thread, nil, { raw in
        Unmanaged<ThreadBody>.fromOpaque(raw!).takeUnretainedValue().run()
        return nil
    }, Unmanaged.passUnretained(box).toOpaque())
    guard started == 0 else { throw SystemError("pthread_create", errno: started) }
    pthread_join(thread, nil)
    return try result!.get()
}

private final class ThreadBody: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
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
        let seed = directory.file("seed")
        for dir in ["bin", "etc", "root", "proc", "sys", "dev", "tmp"] {
            try Command.check("/bin/mkdir", ["-p", "\(seed)/\(dir)"])
        }
        try Command.check("/bin/cp", [try ExecutableLookup.resolve("busybox"), "\(seed)/bin/busybox"])
        for applet in Self.applets { symlink("busybox", "\(seed)/bin/\(applet)") }
        try customize(seed)
        imagePath = directory.file("root.img")
        try Command.check("/usr/bin/truncate", ["-s", "64M", imagePath])
        try Command.check(try ExecutableLookup.resolve("mkfs.ext4"), ["-q", "-F", "-d", seed, imagePath])
        device = try Command.check(try ExecutableLookup.resolve("losetup"), ["--find", "--show", imagePath]).trimmingWhitespace()
    }

    /// A file's contents read straight from the image with debugfs, without mounting it.
    func read(_ path: String) throws -> String {
        try Command.check(try ExecutableLookup.resolve("debugfs"), ["-R", "cat \(path)", imagePath])
    }

    deinit {
        _ = try? Command.run(try ExecutableLookup.resolve("losetup"), ["-d", device])
    }
}
