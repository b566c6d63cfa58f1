import CNBD
import Glibc
import HostSystem
import ImageLayout

/// Whether this kernel gives a chroot command a binfmt_misc of its own (Linux 6.7 or later, user
/// namespaces allowed). A real probe: the spawn a command with emulation makes (new user, PID and mount
/// namespaces, binfmt_misc mounted there, a handler registered), running the host's /bin/true. The host's
/// binfmt_misc is not touched.
public enum PrivateBinfmtProbe {
    public static func run() throws {
        // The interpreter only has to exist when the handler is registered: /bin/true stands in for qemu.
        guard let handler = BinfmtHandler(architecture: .arm64, interpreter: "/bin/true") else { return }
        var options = SpawnOptions()
        options.processNamespace = true
        options.binfmtRegistration = handler.registration
        let status = try ChildProcess.spawn("/bin/true", [], options: options).wait()
        guard status.isSuccess else { throw EmulationError("the probe's /bin/true ended with \(status)") }
    }

    /// Why a failed probe means the kernel cannot mount binfmt_misc in a user namespace (before Linux 6.7 it
    /// is not FS_USERNS_MOUNT: EPERM), so the host fallback applies; nil when it failed for another reason
    /// (user namespaces refused, no binfmt_misc at all), which a handler in the host's would not cure.
    public static func kernelLacksPrivateInstance(_ error: Error) -> String? {
        guard let error = error as? SpawnError, error.stage == Int32(CNBD_SPAWN_BINFMT_MOUNT.rawValue),
              error.errno != ENODEV else { return nil }
        let release = (ProcFS.readText("/proc/sys/kernel/osrelease") ?? "").trimmingWhitespace()
        if let version = KernelRelease(release), version < KernelRelease(major: 6, minor: 7) {
            return "this kernel has no private binfmt_misc: Linux \(release) < 6.7"
        }
        return "a private binfmt_misc could not be mounted on Linux \(release): \(Errno.message(error.errno)) (\(Errno.name(error.errno)))"
    }
}

/// The major and minor number of a kernel release such as "6.1.0-28-amd64".
struct KernelRelease: Comparable {
    let major: Int
    let minor: Int

    init(major: Int, minor: Int) { (self.major, self.minor) = (major, minor) }

    init?(_ release: String) {
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard numbers.count == 2, release.first?.isNumber == true else { return nil }
        (major, minor) = (numbers[0], numbers[1])
    }

    static func < (left: KernelRelease, right: KernelRelease) -> Bool {
        (left.major, left.minor) < (right.major, right.minor)
    }
}
