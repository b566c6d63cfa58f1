import CNBD
import Glibc
import HostSystem
import Synchronization

/// Maps partitions on a whole-disk block device (nbd or loop) at offsets we parsed ourselves, with
/// BLKPG_ADD_PARTITION, and removes what we added with BLKPG_DEL_PARTITION. Kernels without partition parsers
/// (like this host's) make no partitions of their own; kernels with them may already have made the one we want,
/// which is then reused. Never BLKRRPART: on a parser-less kernel it deletes every BLKPG partition.
public final class BlockPartitions: Sendable {
    public let disk: String
    private let descriptor: FileDescriptor
    private struct Mapped {
        let number: Int
        let node: BlockDeviceNode
        /// By us, so ours to delete (not the kernel's own partition reused).
        let added: Bool
    }

    private let mapped = Mutex<[Mapped]>([])

    /// `disk` is the kernel name (nbd0, loop3); `descriptor` an open fd on its whole-disk node.
    public init(disk: String, descriptor: FileDescriptor) {
        self.disk = disk
        self.descriptor = descriptor
    }

    /// Makes partition `number` span `size` bytes from byte `start`, and returns its node's path.
    public func map(number: Int, start: UInt64, size: UInt64) throws -> String {
        try mapped.withLock { mapped in try map(number: number, start: start, size: size, into: &mapped) }
    }

    private func map(number: Int, start: UInt64, size: UInt64, into mapped: inout [Mapped]) throws -> String {
        if let existing = mapped.first(where: { $0.number == number }) { return existing.node.path }
        // The kernel's limit (DISK_MAX_PARTS); it would answer a bare EINVAL.
        guard (1...255).contains(number) else {
            throw NBDKernelError.invalidRequest("partition number \(number) of /dev/\(disk) is outside 1…255")
        }
        let name = BlockSysfs.partitionName(disk: disk, number: number)
        let sysfs = "/sys/class/block/\(name)"
        var added = false
        if BlockSysfs.exists(sysfs) {
            let kernelStart = BlockSysfs.attribute("\(sysfs)/start").flatMap { UInt64($0) }.map { $0 * 512 }
            let kernelSize = BlockSysfs.attribute("\(sysfs)/size").flatMap { UInt64($0) }.map { $0 * 512 }
            // disk_size rewrote the table after the kernel parsed it: same start, new size. Nothing uses the
            // partition yet, so it is resized in place (BLKPG_RESIZE_PARTITION, as partx/resizepart do).
            if kernelStart == start, let kernelSize, kernelSize != size {
                try blkpg(BLKPG_RESIZE_PARTITION, number: number, start: start, size: size)
                Log.debug("/dev/\(name): resized from \(kernelSize) to \(size) bytes to match the partition table")
            } else if kernelStart != start || kernelSize != size {
                throw NBDKernelError.partitionMismatch(
                    "the kernel already has /dev/\(name) at bytes \(kernelStart ?? 0)+\(kernelSize ?? 0), but the "
                        + "partition table we read says \(start)+\(size); detach the device and try again")
            } else {
                Log.debug("/dev/\(name): the kernel's own partition matches, reusing it")
            }
        } else {
            try blkpg(BLKPG_ADD_PARTITION, number: number, start: start, size: size)
            added = true
        }
        do {
            let node = try BlockDeviceNode(name: name)
            mapped.append(Mapped(number: number, node: node, added: added))
            return node.path
        } catch {
            if added { try? blkpg(BLKPG_DEL_PARTITION, number: number) }
            throw error
        }
    }

    /// Removes the partitions we added, newest first; every one is tried, the first error is thrown. Idempotent.
    public func removeAll() throws {
        var errors = Teardown.Errors()
        while let last = mapped.withLock({ $0.popLast() }) {
            last.node.remove()
            guard last.added else { continue }
            errors.attempt("BLKPG_DEL_PARTITION \(last.node.path)") {
                do {
                    // udev's probe of a partition that just changed (unmounted) holds it open for a moment.
                    try Poll.whileBusy(seconds: 2) { try blkpg(BLKPG_DEL_PARTITION, number: last.number) }
                } catch let error as SystemError where error.errno == ENXIO {
                    // Already gone with the device.
                }
            }
        }
        try errors.rethrow()
    }

    /// The owner removes them; the kernel drops them anyway when the device disconnects.
    deinit {
        if mapped.withLock({ $0.contains { $0.added } }) { Log.warning("partitions of /dev/\(disk) were not removed by their owner") }
    }

    private func blkpg(_ operation: Int32, number: Int, start: UInt64 = 0, size: UInt64 = 0) throws {
        var partition = blkpg_partition()
        partition.start = Int64(start)
        partition.length = Int64(size)
        partition.pno = Int32(number)
        let name = operation == BLKPG_ADD_PARTITION ? "BLKPG_ADD_PARTITION"
            : operation == BLKPG_RESIZE_PARTITION ? "BLKPG_RESIZE_PARTITION" : "BLKPG_DEL_PARTITION"
        let what = "/dev/\(BlockSysfs.partitionName(disk: disk, number: number))"
        try withUnsafeMutablePointer(to: &partition) { pointer in
            var argument = blkpg_ioctl_arg(op: operation, flags: 0, datalen: Int32(MemoryLayout<blkpg_partition>.size),
                                           data: UnsafeMutableRawPointer(pointer))
            do {
                try descriptor.ioctl(name, CNBD_BLKPG, pointer: &argument)
            } catch let error as SystemError {
                switch (error.errno, operation) {
                case (EBUSY, BLKPG_ADD_PARTITION):
                    throw SystemError(name, path: what, errno: EBUSY, hint: "it overlaps a partition that already exists")
                case (EINVAL, BLKPG_ADD_PARTITION):
                    throw SystemError(name, path: what, errno: EINVAL,
                                      hint: "bytes \(start)+\(size) are not aligned to the logical block size or past the end")
                case (EBUSY, _):
                    throw SystemError(name, path: what, errno: EBUSY, hint: "it is still mounted or open")
                default: throw SystemError(name, path: what, errno: error.errno)
                }
            }
        }
    }
}
