/// Bytes to write at an offset of a disk: how table writers hand back their work, so the caller applies it
/// through whatever it holds (a file, an NBD connection, a block device).
public struct DiskWrite: Equatable, Sendable {
    public let offset: UInt64
    public let bytes: [UInt8]

    public init(offset: UInt64, bytes: [UInt8]) {
        self.offset = offset
        self.bytes = bytes
    }
}
