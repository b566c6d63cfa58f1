import CNBD
import Glibc
import HostSystem

/// Attaches over the nbd driver's generic-netlink family (kernel ≥ 4.12): no device is opened before
/// CONNECT (an open creates a config and makes the device busy), the kernel picks or creates a free device
/// unless one is named, and DISCONNECT_ON_CLOSE frees it if we die.
public final class NetlinkNBDControl: NBDKernelControl {
    public let mechanism = "netlink"

    public init() {}

    /// Whether the "nbd" family resolves: the driver is loaded and speaks netlink.
    public static var available: Bool { cnbd_nl_resolve_family() >= 0 }

    public func attach(_ request: NBDKernelRequest) throws -> NBDDevice {
        defer { request.closeSockets() }
        try request.validate()
        let result = request.withNetlinkRequest { cnbd_nl_connect($0) }
        let index = Int(try Self.check(result, "netlink NBD_CMD_CONNECT", index: request.deviceIndex))
        do {
            let node = try BlockDeviceNode(name: "nbd\(index)")
            let holder = try FileDescriptor.open(node.path, request.readOnly ? O_RDONLY : O_RDWR)
            Log.debug("attached \(node.path) over netlink (\(request.sockets.count) connection(s))")
            return NBDDevice(index: index, mechanism: mechanism, node: node, holder: holder) {
                try Self.check(cnbd_nl_disconnect(UInt32(index)), "netlink NBD_CMD_DISCONNECT", index: index)
            }
        } catch {
            _ = cnbd_nl_disconnect(UInt32(index))
            throw error
        }
    }

    /// Disconnects a device by index (cleanup of a run that died before DISCONNECT_ON_CLOSE fired).
    public static func disconnect(index: Int) throws {
        try check(cnbd_nl_disconnect(UInt32(index)), "netlink NBD_CMD_DISCONNECT", index: index)
    }

    /// NBD_CMD_STATUS: each device the driver has, and whether it has a config (which a plain open also makes).
    public static func status() throws -> [(index: Int, connected: Bool)] {
        var devices = [cnbd_nl_device_status](repeating: cnbd_nl_device_status(), count: 256)
        let count = try check(cnbd_nl_status(&devices, Int32(devices.count)), "netlink NBD_CMD_STATUS", index: nil)
        return devices.prefix(Int(min(count, Int32(devices.count)))).map { (Int($0.index), $0.connected != 0) }
    }

    @discardableResult
    static func check(_ result: Int32, _ operation: String, index: Int?) throws -> Int32 {
        if result >= 0 { return result }
        let path = index.map { "/dev/nbd\($0)" }
        if result == CNBD_NL_NO_FAMILY { throw NBDKernelError.driverNotLoaded }
        if -result == EBUSY, let path { throw NBDKernelError.deviceBusy(path) }
        let error = SystemError(operation, path: path, errno: -result)
        switch -result {
        case EPERM: throw error.withHint("needs CAP_SYS_ADMIN in the initial user namespace")
        case EINVAL: throw error.withHint("the kernel refused the parameters; dmesg says which")
        default: throw error
        }
    }
}
