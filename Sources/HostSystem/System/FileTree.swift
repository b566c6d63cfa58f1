import Glibc

/// Directory operations done with syscalls (the product runs no rm/mkdir/cp).
public enum FileTree {
    /// mkdir -p; returns whether the last component was created now.
    @discardableResult
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws -> Bool {
        if HostPath.isDirectory(path) { return false }
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw SystemError("mkdir", path: prefix, errno: errno)
            }
        }
        guard HostPath.isDirectory(path) else { throw SystemError("mkdir", path: path, errno: ENOTDIR) }
        return true
    }

    /// rm -rf that never follows symlinks and never crosses into another filesystem (a mount left
    /// inside is an error, not something to empty).
    public static func removeAll(_ path: String) throws {
        var info = stat()
        if lstat(path, &info) != 0 {
            if errno == ENOENT { return }
            throw SystemError("lstat", path: path, errno: errno)
        }
        try remove(path, device: info.st_dev)
    }

    private static func remove(_ path: String, device: dev_t) throws {
        var info = stat()
        try syscall("lstat", path: path) { lstat(path, &info) }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            try syscall("unlink", path: path) { unlink(path) }
            return
        }
        guard info.st_dev == device else {
            throw SystemError("remove", path: path, errno: EBUSY, hint: "something is mounted there; unmount it first")
        }
        for name in try entries(path) { try remove("\(path)/\(name)", device: device) }
        try syscall("rmdir", path: path) { rmdir(path) }
    }

    public static func entries(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw SystemError("opendir", path: path, errno: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// fsync of a file or directory, so a rename into place survives a crash.
    public static func sync(_ path: String) throws {
        let file = try FileDescriptor.open(path, O_RDONLY)
        defer { try? file.close() }
        try syscall("fsync", path: path) { fsync(file.rawValue) }
    }

    public static func fileSize(_ path: String) throws -> UInt64 {
        var info = stat()
        try syscall("stat", path: path) { stat(path, &info) }
        return UInt64(info.st_size)
    }
}
