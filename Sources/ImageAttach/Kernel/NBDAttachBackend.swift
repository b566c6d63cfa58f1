import Glibc
import HostSystem

/// `attach: nbd` (generic netlink) and `attach: nbd-ioctl`: qemu-nbd serves the image on a private socket, our
/// client negotiates connections the kernel can take (no structured replies), and the driver turns them into
/// /dev/nbdN; partitions are mapped with BLKPG at the offsets we parsed.
public struct NBDAttachBackend: AttachBackend {
    public let mode: AttachMode

    public static let netlink = NBDAttachBackend(mode: .nbd)
    public static let ioctl = NBDAttachBackend(mode: .nbdIoctl)

    private init(mode: AttachMode) { self.mode = mode }

    private var control: NBDKernelControl { mode == .nbd ? NetlinkNBDControl() : IoctlNBDControl() }

    public func unavailableReason(for request: AttachRequest) -> String? {
        if let path = request.devicePath, Self.deviceIndex(path) == nil {
            return "device_path \(path) is not an nbd device (expected /dev/nbdN)"
        }
        if !ExecutableLookup.exists("qemu-nbd") { return "qemu-nbd is not installed (Debian: apt-get install qemu-utils)" }
        if geteuid() != 0 { return "attaching nbd devices needs root (CAP_SYS_ADMIN)" }
        switch mode {
        case .nbd where !NetlinkNBDControl.available:
            return BlockSysfs.nbdDriverLoaded
                ? "the nbd driver has no generic-netlink family \"nbd\" (kernel older than 4.12): use nbd-ioctl"
                : NBDKernelError.driverNotLoaded.description
        case .nbdIoctl where !IoctlNBDControl.available:
            return NBDKernelSupport.probe() == .netlink
                ? "the nbd driver is loaded but has no /dev/nbd0" : NBDKernelError.driverNotLoaded.description
        default:
            return nil
        }
    }

    public func attach(_ request: AttachRequest, ledger: RunLedger?) throws -> AttachedImage {
        if let reason = unavailableReason(for: request) {
            throw AttachError("cannot attach \(request.image) with \(mode.rawValue): \(reason)")
        }
        return try NBDAttachedImage(request, mode: mode, control: control, deviceIndex: request.devicePath.flatMap(Self.deviceIndex),
                                    ledger: ledger)
    }

    /// A killed run's netlink device still carrying its identifier (the cleaner checked sysfs): disconnect it.
    /// ioctl devices go down with the process that ran NBD_DO_IT, so there is nothing left to release.
    public func releaseStale(_ resource: LedgerResource) throws -> Bool {
        guard mode == .nbd, case .nbd(let index, _) = resource else { return false }
        try NetlinkNBDControl.disconnect(index: index)
        return true
    }

    /// 3 for "/dev/nbd3".
    static func deviceIndex(_ path: String) -> Int? {
        guard path.hasPrefix("/dev/nbd"), let index = Int(path.dropFirst("/dev/nbd".count)), index >= 0 else { return nil }
        return index
    }
}
