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

    /// For callers written before `ImageFormat` existed; the header check in `Attacher.attach` refuses a
    /// name that contradicts the file.
    @available(*, deprecated, message: "pass the ImageFormat from ImageProbe")
    public init(image: String, format: String, readOnly: Bool = false, mode: AttachMode = .auto,
                devicePath: String? = nil) {
        self.init(image: image, format: format == "qcow2" ? .qcow2 : .raw, readOnly: readOnly, mode: mode,
                  devicePath: devicePath)
    }

    var isQCOW2: Bool { format == .qcow2 }
}
