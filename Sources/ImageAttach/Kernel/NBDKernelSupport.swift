/// Which kernel nbd mechanism this host offers, and why, for `attach: auto` and `doctor`.
public enum NBDKernelSupport: Equatable {
    case netlink
    case ioctl
    case unavailable(reason: String)

    public static func probe() -> NBDKernelSupport {
        if NetlinkNBDControl.available { return .netlink }
        if IoctlNBDControl.available { return .ioctl }
        // One wording for "why not", shared with the attach layer and doctor: it knows whether modprobe would help.
        let availability = NBDAvailability.probe()
        return .unavailable(reason: availability.absenceReason
            ?? "the nbd driver is loaded but answers neither netlink nor ioctl")
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
