import CNBD
import Glibc
import HostSystem

/// Copies files between the host and an image. Image paths are resolved inside the image root (see
/// `RootedPath`), host paths as given. Permission bits are preserved; files are owned by root.
public struct FileTransfer: Sendable {
    public let image: RootedPath

    public init(image: RootedPath) { self.image = image }

    /// Host file → image. If `imagePath` is an existing directory (or ends in "/"), the file goes into it.
    public func copyIn(host hostPath: String, image imagePath: String) throws {
        var target = imagePath
        if imagePath.hasSuffix("/") || (try? image.open(imagePath, CNBD_O_PATH | O_DIRECTORY)) != nil {
            target = Self.join(imagePath, Self.basename(hostPath))
        }
        try write(host: try FileDescriptor.open(hostPath, O_RDONLY), image: target)
    }

    /// An open host file's contents and mode to exactly `imagePath`.
    func write(host source: FileDescriptor, image imagePath: String) throws {
        let mode = try Self.regularFileMode(source, display: source.path)
        let destination = try image.open(imagePath, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        try Self.copyContents(from: source, to: destination, mode: mode)
    }

    /// Image file → host. If `hostPath` is an existing directory (or ends in "/"), the file goes into it.
    public func copyOut(image imagePath: String, host hostPath: String) throws {
        let source = try image.open(imagePath, O_RDONLY)
        let mode = try Self.regularFileMode(source, display: image.display(imagePath))
        var target = hostPath
        var info = stat()
        if hostPath.hasSuffix("/") || (stat(hostPath, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR) {
            target = Self.join(hostPath, Self.basename(imagePath))
        }
        let destination = try FileDescriptor.open(target, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: mode)
        try Self.copyContents(from: source, to: destination, mode: mode)
    }

    static func regularFileMode(_ file: FileDescriptor, display: String) throws -> mode_t {
        var info = stat()
        try syscall("fstat", path: display) { fstat(file.rawValue, &info) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            let what = info.st_mode & S_IFMT == S_IFDIR ? "a directory (use the directory transfer)" : "not a regular file"
            throw SystemError("copy", path: display, errno: info.st_mode & S_IFMT == S_IFDIR ? EISDIR : EINVAL, hint: "it is \(what)")
        }
        return info.st_mode & 0o7777
    }

    /// Copies all bytes, then sets the permission bits (creation applies the umask; an existing file keeps
    /// its old mode otherwise).
    static func copyContents(from source: FileDescriptor, to destination: FileDescriptor, mode: mode_t) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            let got = try syscall("read", path: source.path) { read(source.rawValue, buffer.baseAddress, buffer.count) }
            if got == 0 { break }
            try destination.writeAll(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
        }
        try syscall("fchmod", path: destination.path) { fchmod(destination.rawValue, mode) }
        try destination.close()
    }

    static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? ""
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
