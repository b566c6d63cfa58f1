/// What to attach and how.
public struct AttachRequest: Sendable {
    public var image: String
    /// qemu's name for the image format: "qcow2" or "raw".
    // TODO(layout merge): becomes `ImageFormat` once layout's ImageProbe lands on main.
    public var format: String
    public var readOnly: Bool
    public var mode: AttachMode
    /// A specific device (/dev/nbdN) for the nbd modes; nil lets the kernel pick.
    public var devicePath: String?

    public init(image: String, format: String, readOnly: Bool = false, mode: AttachMode = .auto,
                devicePath: String? = nil) {
        self.image = image
        self.format = format
        self.readOnly = readOnly
        self.mode = mode
        self.devicePath = devicePath
    }

    var isQCOW2: Bool { format == "qcow2" }
}
