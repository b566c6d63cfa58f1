import Crypto
import Glibc
import NBDCore

/// An exclusive flock(2) on an output directory, held for a whole build: a second build (with or without
/// -force) that wants the same directory stops with the holder's name instead of deleting a live build's
/// files. The kernel drops the lock when its holder dies, so a killed build never leaves it behind.
///
/// The lock file lives outside the directory (which -force deletes), under /run/qemu-chroot/output-locks,
/// named by a hash of the directory's canonical path.
public final class OutputDirectoryLock {
    public static let root = "/run/qemu-chroot/output-locks"
    public let directory: String
    private let file: FileDescriptor

    private init(directory: String, file: FileDescriptor) {
        self.directory = directory
        self.file = file
    }

    /// Takes the lock for `directory` (absolute) on behalf of run `runID`, or says who holds it.
    public static func acquire(_ directory: String, runID: String) throws -> OutputDirectoryLock {
        try FileTree.makeDirectories(root, mode: 0o700)
        let canonical = canonicalPath(directory)
        let name = FileDigest.hex(SHA256.hash(data: Array(canonical.utf8)))
        let path = "\(root)/\(name).lock"
        let file = try FileDescriptor.open(path, O_RDWR | O_CREAT, mode: 0o600)
        do {
            try syscall("flock", path: path) { flock(file.rawValue, LOCK_EX | LOCK_NB) }
        } catch let error where error.errno == EWOULDBLOCK {
            let holder = (try? file.read(count: 4096)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            try? file.close()
            throw BuildError("output directory \(directory) is in use by the live run \(holder.isEmpty ? "(unknown)" : holder); "
                + "wait for it to finish or choose another output_directory")
        } catch {
            try? file.close()
            throw error
        }
        let note = Array("\(runID) (pid \(getpid()))".utf8)
        try syscall("ftruncate", path: path) { ftruncate(file.rawValue, 0) }
        try note.withUnsafeBytes { try file.pwriteAll($0, at: 0) }
        return OutputDirectoryLock(directory: directory, file: file)
    }

    /// Idempotent. The lock file stays: removing it would race with a build about to lock it.
    public func release() { try? file.close() }

    /// The directory's parent resolved (the directory itself may not exist yet), so two spellings of
    /// one directory share a lock.
    private static func canonicalPath(_ directory: String) -> String {
        let absolute = HostPath.absolute(directory)
        let parent = PathName.parent(absolute)
        guard parent != "/" else { return absolute }
        return (HostPath.resolved(parent) ?? parent) + "/" + PathName.base(absolute)
    }
}
