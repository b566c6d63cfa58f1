import CNBD
import Glibc
import HostSystem

/// Walks a trusted host directory (paths as given), parents before children.
struct HostTree {
    let root: String
    let excludes: [String]

    func walk(_ visit: (String, TreeEntry) throws -> Void) throws {
        try walk(relative: "", visit)
    }

    private func walk(relative: String, _ visit: (String, TreeEntry) throws -> Void) throws {
        let path = relative.isEmpty ? root : FileTransfer.join(root, relative)
        for name in try DirectoryEntries.names(FileDescriptor.open(path, O_RDONLY | O_DIRECTORY)) {
            let child = relative.isEmpty ? name : relative + "/" + name
            if isExcluded(child, name: name, by: excludes) { continue }
            let childPath = FileTransfer.join(root, child)
            var info = stat()
            try syscall("lstat", path: childPath) { lstat(childPath, &info) }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try visit(child, .directory(mode: info.st_mode & 0o7777))
                try walk(relative: child, visit)
            case S_IFREG:
                try visit(child, .file)
            case S_IFLNK:
                try visit(child, .symlink(target: try DirectoryEntries.readLink(AT_FDCWD, childPath)))
            default:
                Log.warning("skipping \(childPath): not a regular file, directory or symlink")
            }
        }
    }
}

/// Walks a directory inside an image through descriptors: each child is opened relative to its parent's
/// descriptor with O_NOFOLLOW, so a symlink in the image is copied as a link and never followed.
struct ImageTree {
    let excludes: [String]
    let display: String

    func walk(_ top: FileDescriptor, _ visit: (String, TreeEntry, FileDescriptor, String) throws -> Void) throws {
        try walk(top, relative: "", visit)
    }

    private func walk(_ directory: FileDescriptor, relative: String,
                      _ visit: (String, TreeEntry, FileDescriptor, String) throws -> Void) throws {
        let listing = try syscall("openat", path: display) { openat(directory.rawValue, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        for name in try DirectoryEntries.names(FileDescriptor(adopting: listing, path: display)) {
            let child = relative.isEmpty ? name : relative + "/" + name
            if isExcluded(child, name: name, by: excludes) { continue }
            var info = stat()
            try syscall("fstatat", path: "\(display)/\(child)") { fstatat(directory.rawValue, name, &info, AT_SYMLINK_NOFOLLOW) }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try visit(child, .directory(mode: info.st_mode & 0o7777), directory, name)
                let fd = try syscall("openat", path: "\(display)/\(child)") {
                    openat(directory.rawValue, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
                try walk(FileDescriptor(adopting: fd, path: "\(display)/\(child)"), relative: child, visit)
            case S_IFREG:
                try visit(child, .file, directory, name)
            case S_IFLNK:
                try visit(child, .symlink(target: try DirectoryEntries.readLink(directory.rawValue, name)), directory, name)
            default:
                Log.warning("skipping \(display)/\(child): not a regular file, directory or symlink")
            }
        }
    }
}
