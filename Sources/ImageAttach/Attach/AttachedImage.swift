import ImageLayout
/// An image attached to the host. Its owner must call `detach()` (idempotent) when done.
public protocol AttachedImage: AnyObject {
    /// The backend that attached it (never `.auto`).
    var mode: AttachMode { get }
    /// Reads of the whole virtual disk, for the partition-table and filesystem probes.
    var disk: BlockReader { get }
    /// A block device holding exactly the bytes at `offset` for `size` of the disk: partition `number`
    /// (0 = the whole disk). Asking twice gives the same device.
    func blockDevice(number: Int, offset: UInt64, size: UInt64) throws -> String
    /// Pushes everything written so far down to the image file.
    func flush() throws
    /// Releases every device and process of the attachment, flushing first. Safe to call twice.
    func detach() throws
    /// nil while the process serving the disk (qemu-storage-daemon, qemu-nbd) runs, or when there is none;
    /// once it has ended without being stopped, a sentence naming it, how it ended and its last output.
    /// Reads and writes after that fail with errors that do not say why ("Read-only file system" once
    /// ext4 gives up): the caller reports this instead.
    var serverFailure: String? { get }
}

extension AttachedImage {
    /// A block device holding exactly `volume` (a partition, or the whole disk for number 0).
    public func blockDevice(for volume: Volume) throws -> String {
        try blockDevice(number: volume.number, offset: volume.offset, size: volume.size)
    }
}
