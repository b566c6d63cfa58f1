import CNBD
import Glibc
import HostSystem
import Synchronization

/// One attached nbd device. It holds an fd on /dev/nbdN from attach to detach: with DISCONNECT_ON_CLOSE
/// (netlink) the device frees itself when that fd goes, also if the process dies, and the fd's first open
/// runs the kernel's deferred partition scan before we look at partitions.
public final class NBDDevice: Sendable {
    public let index: Int
    /// "netlink", "ioctl" or "recording".
    public let mechanism: String
    public let node: BlockDeviceNode?
    public typealias Disconnect = @Sendable () throws -> Void
    private struct Held {
        var holder: FileDescriptor?
        var disconnect: Disconnect?
    }

    /// Emptied by detach.
    private let held: Mutex<Held>

    /// The kernel's name, nbdN.
    public var name: String { "nbd\(index)" }
    /// The path of the whole-disk node (/dev/nbdN, or a node we made when devtmpfs did not).
    public var path: String { node?.path ?? "/dev/\(name)" }
    /// The held descriptor, for BLKPG and flushes.
    public var descriptor: FileDescriptor? { held.withLock { $0.holder } }

    /// `disconnect` runs once, on detach, while the holder fd is still open (so the index cannot be
    /// reused by another run between our close and our DISCONNECT).
    public init(index: Int, mechanism: String, node: BlockDeviceNode?, holder: FileDescriptor?,
                disconnect: @escaping Disconnect) {
        self.index = index
        self.mechanism = mechanism
        self.node = node
        self.held = Mutex(Held(holder: holder, disconnect: disconnect))
    }

    /// Flushes the device's dirty pages to the server.
    public func flush() throws {
        guard let fd = descriptor else { return }
        try syscall("fsync", path: path) { fsync(fd.rawValue) }
    }

    /// Flush, disconnect, close, remove a node we made. Idempotent; every step runs, the first error is thrown.
    public func detach() throws {
        let taken = held.withLock { held in
            defer { held = Held() }
            return held
        }
        var errors = Teardown.Errors()
        if let fd = taken.holder { errors.attempt("fsync \(path)") { try syscall("fsync", path: path) { fsync(fd.rawValue) } } }
        if let step = taken.disconnect { errors.attempt("disconnect \(path)") { try step() } }
        if let fd = taken.holder { errors.attempt("close \(path)") { try fd.close() } }
        node?.remove()
        // udev opens every device that changes (blkid) and the kernel frees an nbd device only on its last
        // close (seen in the VM with systemd-udevd): wait a moment, so a detached device is free when this returns.
        if taken.disconnect != nil, mechanism != "recording", !Poll.until(seconds: 2, { !BlockSysfs.nbdAttached(index) }) {
            Log.debug("\(path) is still open elsewhere; the kernel frees it on the last close")
        }
        if taken.disconnect != nil { Log.debug("detached \(path) (\(mechanism))") }
        try errors.rethrow()
    }

    /// Never blocks (a disconnect waits for the kernel): the owner detaches. The holder fd closes with this
    /// object, which with DISCONNECT_ON_CLOSE frees the device.
    deinit {
        if held.withLock({ $0.disconnect != nil }) { Log.warning("\(path) was not detached by its owner") }
    }
}
