import CNBD
import Glibc
import HostSystem
import Synchronization

/// A path to a block device named by the kernel (nbd0, nbd0p2, loop3p1): /dev/NAME when devtmpfs made it
/// with the right device number, else a node we create with mknod in a private directory and remove again.
public final class BlockDeviceNode: Sendable {
    public let name: String
    public let path: String
    /// The directory of a node we made; nil once removed, or when devtmpfs had it.
    private let privateDirectory = Mutex<String?>(nil)

    /// Waits up to `timeout` seconds for sysfs to list the device (devtmpfs creates /dev nodes together with it).
    public init(name: String, timeout: Double = 2) throws {
        self.name = name
        let dev = try Self.waitForDeviceNumber(of: name, timeout: timeout)
        let standard = "/dev/\(name)"
        var info = stat()
        if stat(standard, &info) == 0, info.st_mode & S_IFMT == S_IFBLK, info.st_rdev == dev {
            path = standard
            return
        }
        let directory = try PrivateDirectory.make("qemu-chroot-dev", in: "/tmp")
        let node = "\(directory)/\(name)"
        do {
            try syscall("mknod", path: node) { mknod(node, S_IFBLK | 0o600, dev) }
        } catch {
            rmdir(directory)
            throw error.withHint("devtmpfs has no \(standard) and creating the node needs CAP_MKNOD and, in a "
                + "container, a device cgroup that allows block major \(cnbd_dev_major(UInt64(dev))) "
                + "(docker run --device-cgroup-rule 'b \(cnbd_dev_major(UInt64(dev))):* rmw'; docs/scale.md)")
        }
        Log.debug("\(standard) missing: made \(node)")
        path = node
        privateDirectory.withLock { $0 = directory }
    }

    private static func waitForDeviceNumber(of name: String, timeout: Double) throws -> dev_t {
        var number: dev_t?
        Poll.until(seconds: timeout) {
            number = try? BlockSysfs.deviceNumber(of: name)
            return number != nil
        }
        return try number ?? BlockSysfs.deviceNumber(of: name)
    }

    /// Removes a node we created; idempotent.
    public func remove() {
        guard let directory = privateDirectory.withLock({ $0.take() }) else { return }
        unlink(path)
        rmdir(directory)
    }

    /// Two unlinks, never blocking: safe as a last resort.
    deinit { remove() }
}
