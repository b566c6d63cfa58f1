import ImageLayout
/// What to attach and how.
public struct AttachRequest: Sendable {
    public var image: String
    /// The format from the image's own header (`ImageProbe`); never guessed from the file name.
    public var format: ImageFormat
    public var readOnly: Bool
    public var mode: AttachMode
    /// A specific device (/dev/nbdN) for the nbd modes; nil lets the kernel pick.
    public var devicePath: String?
    /// The image is a throwaway its owner reads back through the host's page cache and then deletes (a
    /// build's overlay): the FUSE export skips flushes to the host's disk (`cache.no-flush`), so release
    /// writes the filesystems' dirty data into the image and no further. Never for a user's image.
    public var scratch = false

    public init(image: String, format: ImageFormat, readOnly: Bool = false, mode: AttachMode = .auto,
                devicePath: String? = nil) {
        self.image = image
        self.format = format
        self.readOnly = readOnly
        self.mode = mode
        self.devicePath = devicePath
    }

    var isQCOW2: Bool { format == .qcow2 }
}
