import CNBD
import Glibc
import HostSystem

/// Directory copies between the host and an image, with Packer's conventions: a source ending in "/"
/// copies its contents into the destination, otherwise the directory itself goes into it (dst/<name>).
/// `excludes` are fnmatch(3) patterns, matched against each entry's path relative to the source and
/// against its name; a matching directory is skipped whole. Regular files, directories and symlinks
/// are copied (symlinks as symlinks, never followed); other kinds are skipped with a warning.
extension FileTransfer {
    public func copyDirectoryIn(host source: String, image destination: String, excludes: [String] = []) throws {
        let target = Self.destination(for: source, in: destination)
        try image.makeDirectories(target)
        try HostTree(root: source, excludes: excludes).walk { relative, kind in
            let imagePath = Self.join(target, relative)
            let hostPath = Self.join(source, relative)
            switch kind {
            case .directory(let mode):
                try image.makeDirectories(imagePath)
                let created = try image.open(imagePath, O_RDONLY | O_DIRECTORY)
                try syscall("fchmod", path: created.path) { fchmod(created.rawValue, mode) }
            case .file:
                try write(host: try FileDescriptor.open(hostPath, O_RDONLY), image: imagePath)
            case .symlink(let linkTarget):
                let (directory, name) = try image.parent(of: imagePath)
                if unlinkat(directory.rawValue, name, 0) != 0 && errno != ENOENT {
                    throw SystemError("unlinkat", path: image.display(imagePath), errno: errno)
                }
                try syscall("symlinkat", path: image.display(imagePath)) { symlinkat(linkTarget, directory.rawValue, name) }
            }
        }
    }

    public func copyDirectoryOut(image source: String, host destination: String, excludes: [String] = []) throws {
        let target = Self.destination(for: source, in: destination)
        try FileTree.makeDirectories(target)
        let top = try image.open(source, O_RDONLY | O_DIRECTORY)
        try ImageTree(excludes: excludes, display: image.display(source)).walk(top) { relative, kind, parent, name in
            let hostPath = Self.join(target, relative)
            switch kind {
            case .directory(let mode):
                if mkdir(hostPath, mode) != 0 && errno != EEXIST { throw SystemError("mkdir", path: hostPath, errno: errno) }
                try syscall("chmod", path: hostPath) { chmod(hostPath, mode) }
            case .file:
                let input = try syscall("openat", path: image.display(Self.join(source, relative))) {
                    openat(parent.rawValue, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                }
                let file = FileDescriptor(adopting: input, path: image.display(Self.join(source, relative)))
                let mode = try Self.regularFileMode(file, display: file.path)
                let output = try FileDescriptor.open(hostPath, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: mode)
                try Self.copyContents(from: file, to: output, mode: mode)
            case .symlink(let linkTarget):
                unlink(hostPath)
                try syscall("symlink", path: hostPath) { symlink(linkTarget, hostPath) }
            }
        }
    }

    /// Where a directory copy of `source` lands inside `destination`.
    static func destination(for source: String, in destination: String) -> String {
        source.hasSuffix("/") ? destination : join(destination, basename(source))
    }
}

enum TreeEntry {
    case directory(mode: mode_t)
    case file
    case symlink(target: String)
}

/// Whether an entry is excluded: its relative path or its name matches one of the patterns.
func isExcluded(_ relative: String, name: String, by patterns: [String]) -> Bool {
    patterns.contains { fnmatch($0, relative, 0) == 0 || fnmatch($0, name, 0) == 0 }
}
