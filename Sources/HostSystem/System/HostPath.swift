import Glibc

/// Checks on host paths named in templates (sources of uploads, scripts, images).
public enum HostPath {
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The permission bits (with setuid, setgid, sticky) of `path`, following symlinks.
    public static func permissions(_ path: String) throws -> mode_t {
        var info = stat()
        try syscall("stat", path: path) { stat(path, &info) }
        return info.st_mode & 0o7777
    }

    public static func isReadableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, R_OK) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The canonical path (symlinks resolved), or nil if it does not exist.
    public static func resolved(_ path: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }

    /// `path` made absolute against the current directory (no symlink resolution).
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        return String(cString: buffer) + "/" + path
    }
}
