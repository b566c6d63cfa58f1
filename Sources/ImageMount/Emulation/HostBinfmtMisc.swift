import CNBD
import Glibc
import HostSystem

/// The operations on a binfmt_misc instance the host fallback needs; `HostBinfmtMisc` is the kernel's, tests
/// put a recording one in front of the ledger logic (this host's binfmt_misc must never be written by tests).
public protocol BinfmtMiscInstance: AnyObject {
    /// Where it is, for messages.
    var location: String { get }
    /// binfmt_misc's `status`: "disabled" turns every handler off.
    func isEnabled() throws -> Bool
    /// The entry named `name`, nil when there is none.
    func entry(named name: String) throws -> BinfmtEntry?
    /// Writes `handler`'s registration line to `register`; EEXIST when the name is taken.
    func register(_ handler: BinfmtHandler) throws
    /// Writes -1 to the entry: the kernel removes it. Nothing happens when it is gone already.
    func remove(named name: String) throws
}

/// The host's (the initial user namespace's) binfmt_misc: /proc/sys/fs/binfmt_misc when it is mounted, else a
/// detached mount of it that appears in no mount namespace (`cnbd_fsmount_detached`), so nothing has to be
/// mounted or unmounted, in a run's private namespace or in `cleanup`'s (the host's). On Linux before 6.7 there
/// is only this one instance.
///
/// Facts from fs/binfmt_misc.c this relies on: a new entry goes to the head of the list and the first enabled
/// match wins, so ours takes precedence over an older handler for the same magic without changing it;
/// registering a name that exists fails with EEXIST; writing -1 to an entry removes it; with the F flag the
/// interpreter is opened at registration, in the registering process's root.
public final class HostBinfmtMisc: BinfmtMiscInstance {
    public static let mountPoint = "/proc/sys/fs/binfmt_misc"

    public let location: String
    private let directory: FileDescriptor

    private init(directory: FileDescriptor, location: String) {
        self.directory = directory
        self.location = location
    }

    public static func open() throws -> HostBinfmtMisc {
        if access("\(mountPoint)/register", F_OK) == 0 {
            return HostBinfmtMisc(directory: try FileDescriptor.open(mountPoint, O_RDONLY | O_DIRECTORY), location: mountPoint)
        }
        do {
            let fd = try syscall("fsopen/fsmount(binfmt_misc)") { cnbd_fsmount_detached("binfmt_misc") }
            return HostBinfmtMisc(directory: FileDescriptor(adopting: fd, path: "binfmt_misc"),
                                  location: "the host's binfmt_misc (not mounted at \(mountPoint); reached through a detached mount)")
        } catch {
            let reason = error.errno == ENODEV ? "this kernel has no binfmt_misc (CONFIG_BINFMT_MISC)" : "\(error)"
            throw EmulationError("cannot reach the host's binfmt_misc: \(mountPoint) is not mounted and mounting it failed: \(reason)")
        }
    }

    public func isEnabled() throws -> Bool {
        try read("status")?.hasPrefix("enabled") ?? false
    }

    public func entry(named name: String) throws -> BinfmtEntry? {
        guard let text = try read(name) else { return nil }
        guard let entry = BinfmtEntry(parsing: text) else {
            throw EmulationError("the binfmt_misc entry \(name) in \(location) cannot be read as an entry: \"\(text)\"")
        }
        return entry
    }

    /// The kernel parses the line from one write(2), which `writeAll` makes for a line this short.
    public func register(_ handler: BinfmtHandler) throws {
        let file = try openEntry("register", O_WRONLY)
        defer { try? file.close() }
        try file.writeAll(Array(handler.registration.utf8))
    }

    public func remove(named name: String) throws {
        let file: FileDescriptor
        do { file = try openEntry(name, O_WRONLY) } catch where error.errno == ENOENT { return }
        defer { try? file.close() }
        try file.writeAll(Array("-1".utf8))
    }

    private func read(_ name: String) throws -> String? {
        let file: FileDescriptor
        do { file = try openEntry(name, O_RDONLY) } catch where error.errno == ENOENT { return nil }
        defer { try? file.close() }
        return String(decoding: try file.read(count: 4096), as: UTF8.self)
    }

    private func openEntry(_ name: String, _ flags: Int32) throws(SystemError) -> FileDescriptor {
        let path = "\(location == Self.mountPoint ? location : "binfmt_misc")/\(name)"
        let fd = try syscall("open", path: path) { openat(directory.rawValue, name, flags | O_CLOEXEC) }
        return FileDescriptor(adopting: fd, path: path)
    }
}
