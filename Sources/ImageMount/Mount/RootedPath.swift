import CNBD
import Glibc
import HostSystem

/// A directory that paths are resolved inside, as if it were `/`: an image's root. Every lookup goes through
/// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so "..", absolute symlinks (`/etc -> /host/etc`) and
/// /proc magic links inside the image all stay inside it.
///
/// The root is opened per call rather than held: an open descriptor on a mount's root keeps it busy and
/// would make its unmount fail with EBUSY.
public struct RootedPath: Sendable {
    /// The host path of the root directory (trusted: we created and mounted it).
    public let root: String

    public init(root: String) { self.root = root }

    /// Opens `path` (absolute or relative, always taken inside the root) with open(2) `flags`.
    public func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> FileDescriptor {
        let rootFD = try FileDescriptor.open(root, CNBD_O_PATH | O_DIRECTORY)
        let relative = Self.relative(path)
        // openat2 rejects a mode unless the call can create the file.
        let creates = flags & O_CREAT != 0
        let fd = try syscall("openat2", path: display(path)) {
            cnbd_openat2(rootFD.rawValue, relative.isEmpty ? "." : relative, UInt64(flags | O_CLOEXEC), creates ? UInt64(mode) : 0,
                         UInt64(CNBD_RESOLVE_IN_ROOT | CNBD_RESOLVE_NO_MAGICLINKS))
        }
        return FileDescriptor(adopting: fd, path: display(path))
    }

    /// The directory holding `path` (resolved inside the root) and the last component's name, so that the
    /// caller can act on the entry itself (unlink, rename, O_NOFOLLOW create) without following it.
    public func parent(of path: String) throws -> (directory: FileDescriptor, name: String) {
        let components = Self.components(path)
        guard let name = components.last else {
            throw SystemError("resolve", path: display(path), errno: EINVAL, hint: "the image root itself has no parent")
        }
        let directory = try open(components.dropLast().joined(separator: "/"), CNBD_O_PATH | O_DIRECTORY)
        return (directory, name)
    }

    /// mkdir -p inside the root; returns an CNBD_O_PATH descriptor of the directory.
    @discardableResult
    public func makeDirectories(_ path: String, mode: mode_t = 0o755) throws -> FileDescriptor {
        var current = try open("", CNBD_O_PATH | O_DIRECTORY)
        var prefix: [String] = []
        for component in Self.components(path) {
            prefix.append(component)
            let joined = prefix.joined(separator: "/")
            if let existing = try? open(joined, CNBD_O_PATH | O_DIRECTORY) {
                current = existing
                continue
            }
            // EEXIST: lost a race, or a dangling symlink or a file is in the way; the open below says which.
            if mkdirat(current.rawValue, component, mode) != 0 && errno != EEXIST {
                throw SystemError("mkdirat", path: display(joined), errno: errno)
            }
            current = try open(joined, CNBD_O_PATH | O_DIRECTORY)
        }
        return current
    }

    /// The host path of the object an open descriptor refers to (from /proc/self/fd), for mount targets.
    public static func hostPath(of fd: FileDescriptor) throws -> String {
        let link = "/proc/self/fd/\(fd.rawValue)"
        let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: Int(PATH_MAX) + 1)
        defer { buffer.deallocate() }
        let count = try syscall("readlink", path: link) { readlink(link, buffer.baseAddress!, buffer.count - 1) }
        return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: count), as: UTF8.self)
    }

    /// "root:/path", for messages that must say which file in which image.
    public func display(_ path: String) -> String { "\(root)/\(Self.relative(path))" }

    /// Path components without empty parts or "." (".." stays: openat2 confines it to the root).
    static func components(_ path: String) -> [String] {
        path.split(separator: "/").map(String.init).filter { $0 != "." }
    }

    static func relative(_ path: String) -> String { components(path).joined(separator: "/") }
}
