/// Kernel-nbd failures that need more than errno to explain.
public enum NBDKernelError: Error, CustomStringConvertible, Equatable {
    /// The driver is absent (no /sys/module/nbd; over netlink: no generic-netlink family "nbd"). The
    /// sentence is the same for netlink and ioctl, so it names neither.
    case driverNotLoaded
    /// The driver is loaded but has no device nodes to use with ioctls.
    case noDevice(String)
    case deviceBusy(String)
    case invalidRequest(String)
    /// A partition the kernel already made from the table differs from ours.
    case partitionMismatch(String)

    public var description: String {
        switch self {
        case .driverNotLoaded:
            return "the kernel nbd driver is not loaded: run `modprobe nbd` where the module exists, or use "
                + "attach \"fuse\""
        case .noDevice(let detail): return "no usable nbd device: \(detail)"
        case .deviceBusy(let path):
            return "device \(path) is busy (another process has it attached or open): choose another "
                + "device_path or leave it unset so the kernel picks a free one"
        case .invalidRequest(let detail): return "cannot attach over nbd: \(detail)"
        case .partitionMismatch(let detail): return detail
        }
    }
}
