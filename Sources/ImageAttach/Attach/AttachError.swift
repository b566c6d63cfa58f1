/// An attach step failed for a reason that is not a single system call; the message names the image or
/// device and says how to fix it.
public struct AttachError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }
}
