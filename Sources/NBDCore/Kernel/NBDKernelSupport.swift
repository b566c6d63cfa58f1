/// Which kernel nbd mechanism this host offers, and why, for `attach: auto` and `doctor`.
public enum NBDKernelSupport: Equatable {
    case netlink
    case ioctl
    case unavailable(reason: String)

    public static func probe() -> NBDKernelSupport {
        if NetlinkNBDControl.available { return .netlink }
        if IoctlNBDControl.available { return .ioctl }
        if BlockSysfs.nbdDriverLoaded { return .unavailable(reason: "the nbd driver is loaded but there is no /dev/nbd0") }
        return .unavailable(reason: "the kernel nbd driver is not loaded (`modprobe nbd` loads it where the module exists)")
    }

    /// The control for the mechanism found, or nil.
    public var control: NBDKernelControl? {
        switch self {
        case .netlink: return NetlinkNBDControl()
        case .ioctl: return IoctlNBDControl()
        case .unavailable: return nil
        }
    }

    /// One line for logs and `doctor`.
    public var summary: String {
        switch self {
        case .netlink: return "nbd over generic netlink (driver loaded, family \"nbd\" resolves)"
        case .ioctl: return "nbd over ioctl (driver loaded without its netlink family)"
        case .unavailable(let reason): return "no kernel nbd: \(reason)"
        }
    }
}
