import CNBD
import Glibc
import HostSystem

/// Attaches with the legacy nbd ioctls, for drivers without the netlink family: configure, SET_SOCK each
/// connection, then NBD_DO_IT blocks on a dedicated thread until DISCONNECT. If our process dies, the
/// blocked DO_IT is interrupted and the kernel tears the device down.
public final class IoctlNBDControl: NBDKernelControl {
    public let mechanism = "ioctl"

    public init() {}

    /// The driver is loaded and has device nodes.
    public static var available: Bool { BlockSysfs.nbdDriverLoaded && BlockSysfs.exists("/dev/nbd0") }

    public func attach(_ request: NBDKernelRequest) throws -> NBDDevice {
        defer { request.closeSockets() }
        try request.validate()
        guard BlockSysfs.nbdDriverLoaded else { throw NBDKernelError.driverNotLoaded }
        if let index = request.deviceIndex { return try attach(request, index: index) }
        // Another run may take the same free device between our check and SET_SOCK: EBUSY → try the next.
        for index in BlockSysfs.nbdIndexes() where !BlockSysfs.nbdAttached(index) {
            do { return try attach(request, index: index) } catch NBDKernelError.deviceBusy { continue }
        }
        throw NBDKernelError.noDevice("every /dev/nbd* is in use (load nbd with a larger nbds_max)")
    }

    private func attach(_ request: NBDKernelRequest, index: Int) throws -> NBDDevice {
        let node = try BlockDeviceNode(name: "nbd\(index)")
        let fd = try FileDescriptor.open(node.path, O_RDWR)
        do {
            try configure(fd, request)
        } catch let error as SystemError where error.errno == EBUSY {
            throw NBDKernelError.deviceBusy(node.path)
        } catch let error as SystemError where error.errno == EINVAL && request.deviceIndex != nil {
            // Netlink-bound devices reject configuration ioctls with EINVAL.
            throw NBDKernelError.deviceBusy(node.path)
        } catch {
            // Drop the sockets already added; closing our fd then drops the config.
            _ = try? fd.ioctl("NBD_CLEAR_SOCK", CNBD_NBD_CLEAR_SOCK)
            throw error
        }
        let serving = try HostThread(name: "NBD_DO_IT \(node.path)") {
            try fd.ioctl("NBD_DO_IT", CNBD_NBD_DO_IT)
        }
        do {
            try waitUntilServing(index: index, serving)
            try waitForScanRequest(fd, request, index: index)
            // DO_IT asked for a partition scan on the next open: do that open now, and hold it.
            let holder = try FileDescriptor.open(node.path, request.readOnly ? O_RDONLY : O_RDWR)
            Log.debug("attached \(node.path) over ioctl (\(request.sockets.count) connection(s))")
            return NBDDevice(index: index, mechanism: mechanism, node: node, holder: holder) {
                try Self.disconnect(fd, serving)
            }
        } catch {
            try? Self.disconnect(fd, serving)
            throw error
        }
    }

    private func configure(_ fd: FileDescriptor, _ request: NBDKernelRequest) throws {
        // nbd-client's order: sizes first, clear stale sockets, flags, timeout, then the sockets.
        try fd.ioctl("NBD_SET_BLKSIZE", CNBD_NBD_SET_BLKSIZE, value: UInt(request.blockSize))
        try fd.ioctl("NBD_SET_SIZE_BLOCKS", CNBD_NBD_SET_SIZE_BLOCKS, value: UInt(request.size / request.blockSize))
        try fd.ioctl("NBD_CLEAR_SOCK", CNBD_NBD_CLEAR_SOCK)
        try fd.ioctl("NBD_SET_FLAGS", CNBD_NBD_SET_FLAGS, value: UInt(request.kernelFlags))
        if request.timeoutSeconds > 0 {
            try fd.ioctl("NBD_SET_TIMEOUT", CNBD_NBD_SET_TIMEOUT, value: UInt(request.timeoutSeconds))
        }
        for socket in request.sockets {
            try fd.ioctl("NBD_SET_SOCK", CNBD_NBD_SET_SOCK, value: UInt(socket.rawValue))
        }
    }

    /// DO_IT is serving once sysfs shows the device's pid; it failing early ends the wait with its error.
    private func waitUntilServing(index: Int, _ serving: HostThread) throws {
        let serving = try Poll.until(seconds: 5, interval: 0.005) {
            if serving.hasFinished {
                throw serving.join() ?? NBDKernelError.noDevice("NBD_DO_IT on /dev/nbd\(index) returned at once")
            }
            return BlockSysfs.nbdAttached(index)
        }
        guard serving else { throw NBDKernelError.noDevice("/dev/nbd\(index) did not start serving within 5 s") }
    }

    /// sysfs shows the pid as soon as DO_IT started the device, but DO_IT sets the device's size and asks
    /// for a partition scan (GD_NEED_PART_SCAN) a little later, still holding the config lock (Linux
    /// nbd_start_device_ioctl). Opening the device before that leaves the scan pending: the next open (the
    /// mount of a partition we added with BLKPG) runs it, and it drops and remakes the partitions under us.
    /// Every nbd ioctl takes the config lock, so a no-op one (the flags we already set) returns only once
    /// DO_IT let go of it; then the size must be the one we asked for.
    private func waitForScanRequest(_ fd: FileDescriptor, _ request: NBDKernelRequest, index: Int) throws {
        try fd.ioctl("NBD_SET_FLAGS", CNBD_NBD_SET_FLAGS, value: UInt(request.kernelFlags))
        let sectors = String(request.size / 512)
        let sized = Poll.until(seconds: 5, interval: 0.005) {
            BlockSysfs.attribute("/sys/block/nbd\(index)/size") == sectors
        }
        guard sized else {
            throw NBDKernelError.noDevice("/dev/nbd\(index) did not take its size (\(request.size) bytes) within 5 s")
        }
    }

    /// How long `disconnect` waits for NBD_DO_IT to return once the sockets are shut down. It returns at once
    /// unless the kernel is stuck, and a stuck ioctl must not hang the run's release for ever.
    static let disconnectDeadline = 30.0

    /// DISCONNECT sends NBD_CMD_DISC; CLEAR_SOCK shuts the sockets down, so DO_IT returns even if the server
    /// never closes its end (nbd-client -d does the same two calls). Then the thread is joined, within
    /// `deadline`. Every step runs.
    package static func disconnect(_ fd: FileDescriptor, _ serving: HostThread,
                                   deadline: Double = disconnectDeadline) throws {
        var errors = Teardown.Errors()
        errors.attempt("NBD_DISCONNECT \(fd.path)") { try fd.ioctl("NBD_DISCONNECT", CNBD_NBD_DISCONNECT) }
        errors.attempt("NBD_CLEAR_SOCK \(fd.path)") { try fd.ioctl("NBD_CLEAR_SOCK", CNBD_NBD_CLEAR_SOCK) }
        guard serving.waitUntilFinished(seconds: deadline) else {
            // The descriptor stays open: the blocked ioctl still uses it, and a closed number could be handed
            // to another file before the ioctl returns. Our exit ends the ioctl and frees the device.
            let name = PathName.base(fd.path)
            let message = "NBD_DO_IT on \(fd.path) did not return within \(Int(deadline)) s of NBD_DISCONNECT and "
                + "NBD_CLEAR_SOCK; the kernel still serves the device (see /sys/block/\(name)/pid) until "
                + "this process exits"
            Log.warning(message)
            errors.record(AttachError(message), in: "NBD_DO_IT \(fd.path)")
            try errors.rethrow()
            return
        }
        errors.attempt("NBD_DO_IT \(fd.path)") {
            if let error = serving.join(), !isExpectedEnd(error) { throw error }
        }
        errors.attempt("close \(fd.path)") { try fd.close() }
        try errors.rethrow()
    }

    private static func isExpectedEnd(_ error: Error) -> Bool {
        guard let error = error as? SystemError else { return false }
        return error.errno == EBUSY || error.errno == ENOTCONN
    }
}
