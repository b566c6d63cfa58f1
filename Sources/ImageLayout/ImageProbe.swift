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
    /// The backing file's format as the header's extension names it; nil leaves qemu to guess.
    public let backingFormat: String?
    /// QCOW2 external data file (the guest data lives in another file), if the header names one.
    public let externalDataFile: String?

    public init(path: String, format: ImageFormat, virtualSize: UInt64, backingFile: String? = nil,
                backingFormat: String? = nil, externalDataFile: String? = nil) {
        self.path = path
        self.format = format
        self.virtualSize = virtualSize
        self.backingFile = backingFile
        self.backingFormat = backingFormat
        self.externalDataFile = externalDataFile
    }

    /// Whether qemu would open files other than this one to read the disk.
    public var readsOtherFiles: Bool { backingFile != nil || externalDataFile != nil }
}

/// Recognises QCOW2 by its header ("QFI\xfb") and treats everything else as raw.
public enum ImageProbe {
    static let qcow2Magic: UInt32 = 0x5146_49FB  // "QFI\xfb"

    public static func probe(path: String) throws -> ImageInfo {
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer for ever (and ignore
        // SIGTERM); the type check below refuses it before anything reads.
        let file = try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY)
        defer { try? file.close() }
        var status = stat()
        try syscall("fstat", path: path) { fstat(file.rawValue, &status) }
        if let what = notAnImage(status.st_mode) {
            throw LayoutError("\(path) is \(what), not an image file; pass a qcow2 or raw file"
                + (status.st_mode & S_IFMT == S_IFBLK ? " (copy a device with `qemu-img convert -O qcow2 \(path) disk.qcow2`)" : ""))
        }
        let header = try file.read(count: 65536)
        guard header.count >= 4, header.be32(0) == qcow2Magic else {
            return ImageInfo(path: path, format: .raw, virtualSize: UInt64(status.st_size))
        }
        return try qcow2(header, file: file, path: path, fileSize: UInt64(status.st_size))
    }

    /// What a non-regular file is, in words; nil for a regular file.
    private static func notAnImage(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFDIR: return "a directory"
        default: return "not a regular file"
        }
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
        let l1Size = UInt64(h.be32(36)), l1Offset = h.be64(40), refcountOffset = h.be64(48)
        let clusterMask = (UInt64(1) << clusterBits) - 1
        guard l1Offset & clusterMask == 0, refcountOffset & clusterMask == 0, refcountOffset != 0 else {
            throw corrupt("table offsets are not cluster-aligned")
        }
        // A copy cut short keeps a valid header: say "truncated" rather than show an empty disk.
        if refcountOffset >= fileSize || (l1Size > 0 && l1Offset + l1Size * 8 > fileSize) {
            throw LayoutError("\(path) is truncated: its QCOW2 tables lie past the end of the file (\(fileSize) bytes); "
                + "copy the image again")
        }
        let extensions = version == 3 ? try headerExtensions(h, file: file, corrupt: corrupt) : [:]
        let incompatible = version == 3 ? h.be64(72) : 0
        var dataFile = extensions[externalDataFileExtension].map { String(decoding: $0, as: UTF8.self) }
        if incompatible & externalDataFileFeature != 0 && dataFile == nil {
            dataFile = "(a data file named only at run time)"
        }
        return ImageInfo(path: path, format: .qcow2, virtualSize: virtualSize,
                         backingFile: try backingFile(h, file: file, corrupt: corrupt),
                         backingFormat: extensions[backingFormatExtension].map { String(decoding: $0, as: UTF8.self) },
                         externalDataFile: dataFile)
    }

    static let backingFormatExtension: UInt32 = 0xE279_2ACA
    static let externalDataFileExtension: UInt32 = 0x4441_5441  // "DATA"
    static let externalDataFileFeature: UInt64 = 1 << 2

    /// The v3 header extensions (type → data) between the header and the end of the first cluster.
    private static func headerExtensions(_ h: [UInt8], file: FileDescriptor, corrupt: (String) -> LayoutError) throws -> [UInt32: [UInt8]] {
        var offset = Int(h.be32(100))
        var found: [UInt32: [UInt8]] = [:]
        while offset + 8 <= h.count {
            let type = h.be32(offset), length = Int(h.be32(offset + 4))
            if type == 0 { return found }
            let start = offset + 8
            guard length <= h.count - start else { throw corrupt("header extension 0x\(String(type, radix: 16)) runs past the header") }
            found[type] = Array(h[start..<start + length])
            offset = start + (length + 7) / 8 * 8
        }
        return found
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
