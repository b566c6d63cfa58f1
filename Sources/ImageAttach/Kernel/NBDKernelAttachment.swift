import HostSystem
/// An image attached through the kernel nbd driver: the device and the partitions mapped on it, torn down
/// together (partitions first: BLKPG_DEL needs the device). The NBD server behind the sockets belongs to the
/// caller, who stops it after `detach()` so it flushes what the kernel wrote.
public final class NBDKernelAttachment: Sendable {
    public let device: NBDDevice
    private let partitions: BlockPartitions?

    /// Hands `request`'s sockets to the kernel through `control`.
    public init(control: NBDKernelControl, request: NBDKernelRequest) throws {
        let device = try control.attach(request)
        self.device = device
        partitions = device.descriptor.map { BlockPartitions(disk: device.name, descriptor: $0) }
    }

    /// The node for a volume: the whole disk for number 0, else partition `number` at our byte range.
    public func blockDevice(number: Int, offset: UInt64, size: UInt64) throws -> String {
        guard number != 0 else { return device.path }
        guard let partitions else { throw NBDKernelError.noDevice("\(device.path) has no open descriptor") }
        return try partitions.map(number: number, start: offset, size: size)
    }

    public func flush() throws { try device.flush() }

    /// Removes our partitions, then flushes and disconnects the device. Idempotent; every step runs.
    public func detach() throws {
        var errors = Teardown.Errors()
        errors.attempt("remove the partitions of \(device.path)") { try partitions?.removeAll() }
        errors.attempt("detach \(device.path)") { try device.detach() }
        try errors.rethrow()
    }
}
