import CNBD
import Glibc
import HostSystem

/// The /dev of strict isolation: a small tmpfs holding only the character devices a package manager and
/// its scripts use, the usual symlinks, and mount points for a private devpts and /dev/shm. No disk, no
/// /dev/mem, no host terminal: nothing on it reaches past the command's own I/O.
enum MinimalDev {
    static let mount = ChrootMount(fstype: "tmpfs", source: "dev", target: "/dev",
                                   options: ["nosuid", "noexec", "mode=0755", "size=1m"])

    /// name, major, minor (Documentation/admin-guide/devices.txt)
    static let nodes: [(name: String, major: UInt32, minor: UInt32)] = [
        ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
    ]

    static let links = [
        ("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
    ]

    /// Fills the tmpfs just mounted at /dev inside `image`. The directory is opened inside the image, so
    /// a /dev symlink in it leads where the mount went, never to the host's /dev.
    static func populate(_ image: RootedPath) throws {
        let dev = try image.open("/dev", CNBD_O_PATH | O_DIRECTORY)
        defer { try? dev.close() }
        for node in nodes {
            let path = image.display("/dev/\(node.name)")
            try syscall("mknodat", path: path) { mknodat(dev.rawValue, node.name, S_IFCHR | 0o666, cnbd_makedev(node.major, node.minor)) }
            // mknod applies the umask; these are world-usable like everywhere else.
            try syscall("fchmodat", path: path) { fchmodat(dev.rawValue, node.name, 0o666, 0) }
        }
        for (name, target) in links {
            try syscall("symlinkat", path: image.display("/dev/\(name)")) { symlinkat(target, dev.rawValue, name) }
        }
    }
}
