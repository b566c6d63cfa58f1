/// A mount-layer failure that is not one system call's: a sentence naming the filesystem and the fix.
public struct MountError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
