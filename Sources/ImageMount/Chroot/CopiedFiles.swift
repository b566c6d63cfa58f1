import Glibc
import HostSystem
import Synchronization

/// The seed plugin's `copy_files` (default /etc/resolv.conf): host files copied to the same path in the
/// image for the duration of provisioning, and `undo()` afterwards. Unlike the seed (`cp
/// --remove-destination`, later `rm -f`), what was there before — often a symlink such as
/// resolv.conf -> ../run/systemd/resolve/stub-resolv.conf — is set aside and put back, so the image ends up
/// as it was.
public final class CopiedFiles: Sendable {
    public static let defaultPaths = ["/etc/resolv.conf"]

    private struct Entry {
        let path: String
        let savedAs: String?
    }

    private let image: RootedPath
    private let entries = Mutex<[Entry]>([])

    private init(image: RootedPath) { self.image = image }

    /// Copies each host path to the same path inside the image (the parent must exist in the image).
    public static func copy(_ paths: [String], into image: RootedPath) throws -> CopiedFiles {
        let copied = CopiedFiles(image: image)
        do {
            for path in paths { try copied.copyOne(path) }
        } catch {
            try? copied.undo()
            throw error
        }
        return copied
    }

    private func copyOne(_ path: String) throws {
        let source = try FileDescriptor.open(path, O_RDONLY)
        let mode = try FileTransfer.regularFileMode(source, display: path)
        let (directory, name) = try image.parent(of: path)
        var info = stat()
        var savedAs: String?
        if fstatat(directory.rawValue, name, &info, AT_SYMLINK_NOFOLLOW) == 0 {
            let backup = ".\(name).qemu-chroot-saved"
            try syscall("renameat", path: image.display(path)) {
                renameat(directory.rawValue, name, directory.rawValue, backup)
            }
            savedAs = backup
        }
        entries.withLock { $0.append(Entry(path: path, savedAs: savedAs)) }
        // O_EXCL|O_NOFOLLOW: the name is free now; anything that appears there meanwhile is not followed.
        let fd = try syscall("openat", path: image.display(path)) {
            openat(directory.rawValue, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        }
        try FileTransfer.copyContents(from: source, to: FileDescriptor(adopting: fd, path: image.display(path)), mode: mode)
        Log.debug("copied \(path) into the image")
    }

    /// Removes the copies and restores what they replaced, newest first. Idempotent; every entry is tried.
    public func undo() throws {
        var errors = Teardown.Errors()
        while let entry = entries.withLock({ $0.popLast() }) {
            errors.attempt("restore \(image.display(entry.path))") {
                let (directory, name) = try image.parent(of: entry.path)
                if unlinkat(directory.rawValue, name, 0) != 0 && errno != ENOENT {
                    throw SystemError("unlinkat", path: image.display(entry.path), errno: errno)
                }
                if let saved = entry.savedAs {
                    try syscall("renameat", path: image.display(entry.path)) {
                        renameat(directory.rawValue, saved, directory.rawValue, name)
                    }
                }
            }
        }
        try errors.rethrow()
    }
}
