import Glibc
import HostSystem

/// Whether the kernel nbd driver is usable here, and if not, a sentence saying why.
public struct NBDAvailability: Sendable {
    /// /sys/module/nbd exists: the driver is loaded or built in.
    public let driverLoaded: Bool
    /// /dev/nbd0 exists.
    public let deviceNodes: Bool
    /// nbd.ko is among this kernel's modules, so `modprobe nbd` would load it.
    public let moduleInstalled: Bool

    public static func probe() -> NBDAvailability {
        NBDAvailability(
            driverLoaded: access("/sys/module/nbd", F_OK) == 0,
            deviceNodes: access("/dev/nbd0", F_OK) == 0,
            moduleInstalled: moduleListed())
    }

    public var isAvailable: Bool { driverLoaded && deviceNodes }

    /// Why nbd cannot be used, in words the user can act on; nil when it can.
    public var absenceReason: String? {
        if isAvailable { return nil }
        if driverLoaded { return "kernel nbd driver is loaded but /dev/nbd0 is missing (no devtmpfs here?)" }
        if moduleInstalled { return "kernel nbd driver not loaded (`modprobe nbd` fixes it)" }
        return "kernel nbd driver not loaded (modprobe nbd fixes it where the module exists; this kernel "
            + "has no nbd module)"
    }

    private static func moduleListed() -> Bool {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let modules = ProcFS.readText("/lib/modules/\(release)/modules.dep", limit: 8 << 20) else { return false }
        return modules.contains("/nbd.ko")
    }
}
