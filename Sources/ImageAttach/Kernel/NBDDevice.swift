import CNBD
import Glibc
import HostSystem

/// One attached nbd device. It holds an fd on /dev/nbdN from attach to detach: with DISCONNECT_ON_CLOSE
/// (netlink) the device frees itself when that fd goes, also if the process dies, and the fd's first open
/// runs the kernel's deferred partition scan before we look at partitions.
public final class NBDDevice {
    public let index: Int
    /// "netlink", "ioctl" or "recording".
    public let mechanism: String
    public let node: BlockDeviceNode?
    private var holder: FileDescriptor?
    private var disconnect: (() throws -> Void)?
    private let lock = Mutex()

    /// The kernel's name, nbdN.
    public var name: String { "nbd\(index)" }
    /// The path of the whole-disk node (/dev/nbdN, or a node we made when devtmpfs did not).
    public var path: String { node?.path ?? "/dev/\(name)" }
    /// The held descriptor, for BLKPG and flushes.
    public var descriptor: FileDescriptor? { lock.withLock { holder } }

    /// `disconnect` runs once, on detach, while the holder fd is still open (so the index cannot be
    /// reused by another run between our close and our DISCONNECT).
    public init(index: Int, mechanism: String, node: BlockDeviceNode?, holder: FileDescriptor?,
                disconnect: @escaping () throws -> Void) {
        self.index = index
        self.mechanism = mechanism
        self.node = node
        self.holder = holder
        self.disconnect = disconnect
    }

    /// Flushes the device's dirty pages to the server.
    public func flush() throws {
        guard let fd = descriptor else { return }
        try syscall("fsync", path: path) { fsync(fd.rawValue) }
    }

    /// Flush, disconnect, close, remove a node we made. Idempotent; every step runs, the first error is thrown.
    public func detach() throws {
        let (step, fd) = lock.withLock { () -> ((() throws -> Void)?, FileDescriptor?) in
            defer { disconnect = nil; holder = nil }
            return (disconnect, holder)
        }
        var firstError: Error?
        if let fd { do { try syscall("fsync", path: path) { fsync(fd.rawValue) } } catch { firstError = firstError ?? error } }
        if let step { do { try step() } catch { firstError = firstError ?? error } }
        if let fd { do { try fd.close() } catch { firstError = firstError ?? error } }
        node?.remove()
        if step != nil { Log.debug("detached \(path) (\(mechanism))") }
        if let firstError { throw firstError }
    }

    deinit { try? detach() }
}
