/// Why a disk's partition table or filesystems cannot be used. The description is one sentence; callers
/// that know the image file put its path in front.
public struct LayoutError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
