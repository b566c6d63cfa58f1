import Glibc
import HostSystem

/// How far a command in the image is kept from the host (docs/security.md).
///
/// Every command already runs under its own init in PID and mount namespaces of its own. `strict` adds:
/// the image's filesystems mounted `nodev`, a private minimal /dev and a read-only /sys (`strictMounts`),
/// pivot_root instead of chroot (the host's tree is gone from the command's mount namespace, so a chroot
/// escape finds only the image), read-only /proc/sys and friends, a UTS namespace with the image's host
/// name, and only `keptCapabilities`. `network: false` gives the command an empty network namespace
/// (loopback only), in either mode.
public struct ChrootIsolation: Sendable, Equatable {
    public var strict: Bool
    public var network: Bool

    public init(strict: Bool = false, network: Bool = true) {
        self.strict = strict
        self.network = network
    }

    public static let standard = ChrootIsolation()

    /// What a distribution's package tools need, and no more (Docker's default set): file ownership and
    /// modes, switching users (apt's sandbox user), chroot, file capabilities (dpkg installs them), signals,
    /// raw sockets for ping. Gone: among others CAP_SYS_ADMIN (mount, so /sys, /proc/sys and the minimal
    /// /dev cannot be remounted or replaced by a devtmpfs), CAP_MKNOD (no new device nodes: the image's
    /// filesystems are nodev, so no node it ships opens either), CAP_SYS_MODULE, CAP_SYS_RAWIO,
    /// CAP_SYS_BOOT, CAP_SYS_TIME, CAP_NET_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH (open_by_handle_at).
    public static let keptCapabilities: [Capability] = [
        .chown, .dacOverride, .fowner, .fsetid, .kill, .setgid, .setuid, .setpcap, .netBindService, .netRaw,
        .sysChroot, .auditWrite, .setfcap,
    ]

    /// Paths of the command's own /proc that would let root reach the host kernel's settings
    /// (core_pattern runs a host program; sysrq-trigger reboots), bound read-only as Docker does.
    public static let readOnlyProcPaths = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"]

    /// The chroot mounts of strict mode: /proc (each command mounts its own there), /sys read-only, a
    /// tmpfs /dev that `MinimalDev` fills, a private devpts and /dev/shm. No host /dev, no binfmt_misc.
    public static let strictMounts: [ChrootMount] = [
        ChrootMount(fstype: "proc", source: "proc", target: "/proc", options: ["nosuid", "nodev", "noexec"]),
        ChrootMount(fstype: "sysfs", source: "sysfs", target: "/sys", options: ["ro", "nosuid", "nodev", "noexec"]),
        MinimalDev.mount,
        ChrootMount(fstype: "devpts", source: "devpts", target: "/dev/pts",
                    options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        ChrootMount(fstype: "tmpfs", source: "shm", target: "/dev/shm", options: ["nosuid", "nodev", "mode=1777"]),
    ]

    /// The chroot mounts used when the template or command line names none.
    public var defaultMounts: [ChrootMount] { strict ? Self.strictMounts : ChrootMount.defaults }

    /// The spawn options that make this isolation for a command whose root is `image`.
    func apply(to options: inout SpawnOptions, image: RootedPath) {
        options.newNetwork = !network
        guard strict else { return }
        options.pivotRoot = true
        options.hostname = Self.hostname(of: image)
        options.readOnlyPaths = Self.readOnlyProcPaths
        options.keepCapabilities = Self.keptCapabilities.reduce(0) { $0 | (1 << UInt64($1.rawValue)) }
    }

    /// The image's /etc/hostname when it holds a valid host name, else "localhost": never the host's.
    static func hostname(of image: RootedPath) -> String {
        // O_NONBLOCK: a FIFO planted as /etc/hostname must not hang the command.
        guard let file = try? image.open("/etc/hostname", O_RDONLY | O_NOFOLLOW | O_NONBLOCK) else { return "localhost" }
        defer { try? file.close() }
        guard let bytes = try? file.read(count: 256) else { return "localhost" }
        let name = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first.map(String.init)?
            .trimmingWhitespace() ?? ""
        let valid = !name.isEmpty && name.utf8.count <= 64
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
        return valid ? name : "localhost"
    }
}

/// Linux capability numbers (linux/capability.h) that strict isolation names.
public enum Capability: Int, Sendable {
    case chown = 0, dacOverride = 1, dacReadSearch = 2, fowner = 3, fsetid = 4, kill = 5, setgid = 6, setuid = 7
    case setpcap = 8, netBindService = 10, netAdmin = 12, netRaw = 13, sysModule = 16, sysRawio = 17
    case sysChroot = 18, sysPtrace = 19, sysAdmin = 21, sysBoot = 22, sysTime = 25, mknod = 27
    case auditWrite = 29, setfcap = 31
}
