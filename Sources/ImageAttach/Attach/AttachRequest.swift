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
