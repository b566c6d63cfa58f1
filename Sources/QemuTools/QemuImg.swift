import HostSystem
import ImageLayout

/// The qemu-img operations a build needs. The source image is only ever opened read-only, as the
/// backing file of an overlay.
public enum QemuImg {
    /// A qcow2 overlay at `overlay` whose reads fall through to `backing` (opened read-only by qemu).
    public static func createOverlay(_ overlay: String, backing: String, backingFormat: String) throws {
        try Command.check("qemu-img", ["create", "-q", "-f", "qcow2", "-b", backing, "-F", backingFormat, overlay])
    }

    public static func resize(_ image: String, to bytes: UInt64) throws {
        try Command.check("qemu-img", ["resize", "-q", "-f", "qcow2", image, String(bytes)])
    }

    /// Flattens `source` (with its backing chain) into a standalone `destination` of `format`; `options` are
    /// the user's extra convert arguments (`qemu_img_args`), placed before the file names.
    /// Stopped (TERM, then KILL) when `cancellation` fires: a large image takes a while. `progress` gets
    /// the fraction done (0...1) as qemu-img's `-p` reports it.
    public static func convert(_ source: String, to destination: String, format: OutputFormat,
                               compression: CompressionType?, options: [String] = [], cancellation: Cancellation,
                               progress: ((Double) -> Void)? = nil) throws {
        var arguments = ["convert", progress == nil ? "-q" : "-p", "-f", "qcow2", "-O", format.rawValue]
        if let compression {
            // Compression is CPU-bound: 16 requests in flight (-m) with out-of-order writes (-W) keep every
            // core compressing. -W only changes where clusters land in the file, not what it reads back.
            arguments += ["-c", "-W", "-m", "16", "-o", "compression_type=\(compression.rawValue)"]
        }
        let parser = progress.map(QemuImgProgress.init)
        try CancellableCommand.check("qemu-img", arguments + options + [source, destination], cancellation: cancellation,
                                     stdout: parser.map { parser in { parser.feed($0) } })
    }
}

/// The formats a build can write (qemu-img convert -O): the two we attach, plus VMware's, Hyper-V's and
/// Virtual PC's (`vpc`, the .vhd format Azure takes).
public enum OutputFormat: String, CaseIterable, Sendable {
    case qcow2, raw, vmdk, vhdx, vpc

    /// The default image name's extension.
    public var fileExtension: String { self == .vpc ? "vhd" : rawValue }
}

/// qcow2's compression algorithms (`qemu-img convert -c -o compression_type=`).
public enum CompressionType: String, CaseIterable, Sendable {
    case zlib, zstd
}
