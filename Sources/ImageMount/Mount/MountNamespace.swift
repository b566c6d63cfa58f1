import CNBD
import Glibc
import HostSystem
import Synchronization

/// The private mount namespace every run works in: mounts made after `enterPrivate()` never appear on the
/// host, and when the last process in the namespace dies the kernel unmounts everything, so a killed run
/// leaves no mount behind.
///
/// unshare(CLONE_NEWNS) moves only the calling thread when a process has several threads; the others
/// stay in the host namespace and would mount, read mountinfo and spawn there. So `enterPrivate()` refuses
/// to run once a second thread exists, and the CLI and the Packer plugin call it first thing. Code that
/// cannot guarantee that (the multi-threaded test runner) uses `privatizeCurrentThread()` on one dedicated
/// thread that then does all the mounting and spawning itself.
public enum MountNamespace {
    private static let entered = Mutex(false)
    /// The namespaces (as "mnt:[inode]") that privatizeCurrentThread made.
    private static let created = Mutex<Set<String>>([])

    /// Moves the whole (single-threaded) process into a new private mount namespace. Idempotent.
    public static func enterPrivate() throws {
        try entered.withLock { entered in
            if entered { return }
            let threads = threadCount()
            guard threads == 1 else {
                throw MountNamespaceError.multiThreaded(threads: threads)
            }
            try privatizeCurrentThread()
            entered = true
        }
    }

    /// unshare(CLONE_NEWNS) for the calling thread, then marks every mount private recursively. Without
    /// the second step, on a host whose / is shared (systemd), our mounts would propagate to the host.
    public static func privatizeCurrentThread() throws {
        try syscall("unshare(CLONE_NEWNS)") { cnbd_unshare(CNBD_CLONE_NEWNS) }
        try syscall("mount(MS_REC|MS_PRIVATE)", path: "/") { mount(nil, "/", nil, UInt(MS_REC | MS_PRIVATE), nil) }
        if let namespace = namespaceLink("/proc/thread-self/ns/mnt") {
            created.withLock { _ = $0.insert(namespace) }
        }
        Log.debug("entered a private mount namespace")
    }

    /// Whether the calling thread is in a mount namespace this process created (so its mounts cannot leak).
    public static var isPrivate: Bool {
        guard let mine = namespaceLink("/proc/thread-self/ns/mnt") else { return false }
        return created.withLock { $0.contains(mine) }
    }

    private static func namespaceLink(_ path: String) -> String? {
        let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: 64)
        defer { buffer.deallocate() }
        let count = readlink(path, buffer.baseAddress!, buffer.count)
        guard count > 0 else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: count), as: UTF8.self)
    }

    /// Threads of this process, from /proc/self/task.
    public static func threadCount() -> Int {
        guard let directory = try? FileDescriptor.open("/proc/self/task", O_RDONLY | O_DIRECTORY),
              let tasks = try? DirectoryEntries.names(directory) else { return 1 }
        return tasks.count
    }
}

public enum MountNamespaceError: Error, CustomStringConvertible {
    case multiThreaded(threads: Int)
    case notPrivate

    public var description: String {
        switch self {
        case .multiThreaded(let threads):
            return "cannot enter a private mount namespace: the process already has \(threads) threads and "
                + "unshare(CLONE_NEWNS) would move only one of them; call MountNamespace.enterPrivate() "
                + "before anything starts a thread"
        case .notPrivate:
            return "refusing to mount in the host's mount namespace (the mounts would be visible on the host and "
                + "outlive a killed run); call MountNamespace.enterPrivate() first"
        }
    }
}
