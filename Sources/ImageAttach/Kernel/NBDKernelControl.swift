/// The seam in front of the kernel nbd driver: netlink, ioctl, and a recording implementation for tests.
public protocol NBDKernelControl: AnyObject {
    /// "netlink", "ioctl" or "recording", for logs.
    var mechanism: String { get }
    /// Hands the request's sockets to the kernel and returns the attached device, which holds one open fd
    /// on the device until `detach()` (see NBDDevice).
    func attach(_ request: NBDKernelRequest) throws -> NBDDevice
}
