import Glibc
import HostSystem

/// The container format of a disk image file, as passed to qemu-nbd's --format.
public enum ImageFormat: String, CaseIterable, Sendable {
    case qcow2, raw
}

/// What an image file's own header says, so the format can be passed explicitly and never guessed.
public struct ImageInfo: Equatable, Sendable {
    public let path: String
    public let format: ImageFormat
    /// The size of the disk the image holds, in bytes (the file size for raw).
    public let virtualSize: UInt64
    /// QCOW2 backing file name, if the header names one.
    public let backingFile: String?
}

/// Recognises QCOW2 by its header ("QFI\xfb") and treats everything else as raw.
public enum ImageProbe {
    static let qcow2Magic: UInt32 = 0x5146_49FB  // "QFI\xfb"

    public static func probe(path: String) throws -> ImageInfo {
        let file = try FileDescriptor.open(path, O_RDONLY)
        defer { try? file.close() }
        var status = stat()
        try syscall("fstat", path: path) { fstat(file.rawValue, &status) }
        guard status.st_mode & S_IFMT == S_IFREG || status.st_mode & S_IFMT == S_IFBLK else {
            throw LayoutError("\(path) is not a regular file or block device")
        }
        let header = try file.read(count: 512)
        guard header.count >= 4, header.be32(0) == qcow2Magic else {
            // A block device reports its size through BLKGETSIZE64; a file (even an empty one) through stat.
            let size = status.st_mode & S_IFMT == S_IFBLK ? try FileBlockReader(path: path).size : UInt64(status.st_size)
            return ImageInfo(path: path, format: .raw, virtualSize: size, backingFile: nil)
        }
        return try qcow2(header, file: file, path: path, fileSize: UInt64(status.st_size))
    }

    /// Validates the fields qemu would reject, so the error names the file instead of a qemu-nbd failure.
    private static func qcow2(_ h: [UInt8], file: FileDescriptor, path: String, fileSize: UInt64) throws -> ImageInfo {
        func corrupt(_ why: String) -> LayoutError { LayoutError("\(path): corrupt QCOW2 header: \(why)") }
        guard h.count >= 72 else { throw corrupt("the file ends after \(h.count) bytes") }
        let version = h.be32(4)
        guard version == 2 || version == 3 else { throw corrupt("unsupported version \(version) (expected 2 or 3)") }
        let clusterBits = h.be32(20)
        guard (9...21).contains(clusterBits) else { throw corrupt("cluster bits \(clusterBits) outside 9…21") }
        let virtualSize = h.be64(24)
        guard virtualSize <= 1 << 55 else { throw corrupt("virtual size \(virtualSize) is implausible") }
        guard h.be32(32) == 0 else {
            throw LayoutError("\(path): encrypted QCOW2 images are not supported")
        }
        if version == 3 {
            let headerLength = h.be32(100)
            guard h.count >= 104, headerLength >= 104, headerLength <= 1 << 16 else {
                throw corrupt("header length \(headerLength) is invalid")
            }
        }
        let l1Offset = h.be64(40), refcountOffset = h.be64(48)
        let clusterMask = (UInt64(1) << clusterBits) - 1
        guard l1Offset & clusterMask == 0, refcountOffset & clusterMask == 0, refcountOffset != 0,
              refcountOffset < fileSize else {
            throw corrupt("table offsets are not cluster-aligned or lie past the end of the file")
        }
        return ImageInfo(path: path, format: .qcow2, virtualSize: virtualSize,
                         backingFile: try backingFile(h, file: file, corrupt: corrupt))
    }

    private static func backingFile(_ h: [UInt8], file: FileDescriptor, corrupt: (String) -> LayoutError) throws -> String? {
        let offset = h.be64(8), length = Int(h.be32(16))
        guard offset != 0 else { return nil }
        guard length > 0, length <= 1023 else { throw corrupt("backing file name length \(length) outside 1…1023") }
        var name = [UInt8](repeating: 0, count: length)
        let got = try name.withUnsafeMutableBytes { try file.pread(into: $0, at: offset) }
        guard got == length else { throw corrupt("backing file name lies past the end of the file") }
        return String(decoding: name, as: UTF8.self)
    }
}
