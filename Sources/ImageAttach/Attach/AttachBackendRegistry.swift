import HostSystem
import Synchronization
/// The attach backends this build knows, by mode. The kernel nbd backends (`nbd`, `nbd-ioctl`) register
/// here: add them to `builtIn`, or call `register(_:)` before the first attach.
public enum AttachBackendRegistry {
    private static let backends: Mutex<[AttachMode: AttachBackend]> = {
        var table: [AttachMode: AttachBackend] = [:]
        for backend in builtIn { table[backend.mode] = backend }
        return Mutex(table)
    }()

    /// Backends compiled into NBDCore.
    static let builtIn: [AttachBackend] = [FuseBackend(), LoopBackend(), NBDAttachBackend.netlink, NBDAttachBackend.ioctl]

    public static func register(_ backend: AttachBackend) {
        backends.withLock { $0[backend.mode] = backend }
    }

    public static var all: [AttachBackend] {
        backends.withLock { backends in AttachMode.allCases.compactMap { backends[$0] } }
    }

    public static func backend(for mode: AttachMode) -> AttachBackend? {
        backends.withLock { $0[mode] }
    }
}
