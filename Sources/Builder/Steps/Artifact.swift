import NBDCore

/// What a build produced: Packer's artifact (id = the image path) plus its size and checksum.
public struct Artifact: Sendable, Equatable {
    public static let builderID = "qemu-chroot"
    public let buildName: String
    public let path: String
    public let format: OutputFormat
    public let size: UInt64
    public let sha256: String

    /// `sha256` is empty for an image changed in place (`customize` without -o).
    public var description: String { "\(path) (\(size) bytes\(sha256.isEmpty ? "" : ", sha256 \(sha256)"))" }
}
