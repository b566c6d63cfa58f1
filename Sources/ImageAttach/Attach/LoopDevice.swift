import CNBD
import Glibc
import HostSystem
import Synchronization

/// A loop device configured by us over a backing file, or a slice of it (a partition at offset/size).
/// AUTOCLEAR is always set, so the kernel frees the device on its last close even if we die; while we live,
/// `detach()` releases it explicitly. The corresponding ioctls are LOOP_CTL_GET_FREE and LOOP_CONFIGURE.
public final class LoopDevice: Sendable {
    public let index: Int
    /// The node to open or mount: /dev/loopN, or a private node when /dev lacks it (a container's tmpfs /dev
    /// gets no node for a device LOOP_CTL_GET_FREE creates).
    public var path: String { node?.path ?? kernelPath }
    /// The kernel's name for the device, as /sys/block and the run ledger know it.
    public var kernelPath: String { "/dev/loop\(index)" }
    private let node: BlockDeviceNode?
    public let backingFile: String
    public let offset: UInt64
    /// Bytes visible through the device; 0 means up to the end of the backing file.
    public let sizeLimit: UInt64
    public let readOnly: Bool
    private let device: FileDescriptor
    private let detached = Atomic(false)

    private init(index: Int, backingFile: String, offset: UInt64, sizeLimit: UInt64, readOnly: Bool,
                 device: FileDescriptor, node: BlockDeviceNode?) {
        self.index = index
        self.node = node
        self.backingFile = backingFile
        self.offset = offset
        self.sizeLimit = sizeLimit
        self.readOnly = readOnly
        self.device = device
    }

    /// Configures a free loop device over `backingFile` from `offset` for `sizeLimit` bytes.
    /// `willUse` is called with the device path before that device is configured (the ledger records its
    /// intent there); it may be called again with another path when another process wins the race for a
    /// free index. `partitionScan` (LO_FLAGS_PARTSCAN) is for a whole disk that gets BLKPG partitions: with it
    /// the kernel drops them when the device is cleared, also by autoclear after a kill -9, where without
    /// it they would stay on the free device for its next user.
    public static func attach(
        backingFile: String, offset: UInt64 = 0, sizeLimit: UInt64 = 0,
        readOnly: Bool = false, directIO: Bool = false, partitionScan: Bool = false,
        willUse: (String) throws -> Void = { _ in }
    ) throws -> LoopDevice {
        guard offset % 512 == 0, sizeLimit % 512 == 0 else {
            throw AttachError("loop device over \(backingFile): offset \(offset) and size \(sizeLimit) must be "
                + "multiples of 512 bytes")
        }
        let backing = try FileDescriptor.open(backingFile, readOnly ? O_RDONLY : O_RDWR)
        defer { try? backing.close() }
        let control = try FileDescriptor.open("/dev/loop-control", O_RDWR)
        defer { try? control.close() }

        var flags = cnbd_lo_flags_autoclear
        if readOnly { flags |= cnbd_lo_flags_read_only }
        if directIO { flags |= cnbd_lo_flags_direct_io }
        if partitionScan { flags |= cnbd_lo_flags_partscan }
        var config = loop_config()
        config.fd = UInt32(backing.rawValue)
        config.info.lo_offset = offset
        config.info.lo_sizelimit = sizeLimit
        config.info.lo_flags = flags
        withUnsafeMutableBytes(of: &config.info.lo_file_name) { name in
            let bytes = Array(backingFile.utf8.prefix(name.count - 1))
            name.copyBytes(from: bytes)
        }

        // Another process may configure the index GET_FREE gave us before we do: then LOOP_CONFIGURE says
        // EBUSY and, like losetup, we ask for a new index.
        for _ in 0..<16 {
            let index = Int(try control.ioctl("LOOP_CTL_GET_FREE", cnbd_loop_ctl_get_free))
            let path = "/dev/loop\(index)"
            try willUse(path)
            let (device, node) = try openDeviceNode(index: index, readOnly: readOnly)
            do {
                try device.ioctl("LOOP_CONFIGURE", cnbd_loop_configure, pointer: &config)
            } catch let error as SystemError where error.errno == EBUSY {
                Log.debug("\(path) was taken by another process first; asking for another free index")
                try? device.close()
                node?.remove()
                continue
            } catch let error as SystemError where error.errno == EINVAL && config.info.lo_flags & cnbd_lo_flags_direct_io != 0 {
                // Some backing files cannot do O_DIRECT at this offset; buffered I/O still works.
                Log.debug("\(path): no direct I/O on \(backingFile) (\(error)); using buffered I/O")
                try? device.close()
                node?.remove()
                config.info.lo_flags &= ~cnbd_lo_flags_direct_io
                continue
            } catch let error as SystemError where error.errno == EINVAL || error.errno == ENOTTY {
                try? device.close()
                node?.remove()
                throw error.withHint("the kernel lacks LOOP_CONFIGURE (Linux 5.8+), or \(backingFile) "
                    + "cannot back a loop device at offset \(offset)")
            } catch {
                try? device.close()
                node?.remove()
                throw error
            }
            Log.debug("\(path) → \(backingFile) offset \(offset) size \(sizeLimit)\(readOnly ? " read-only" : "")")
            return LoopDevice(index: index, backingFile: backingFile, offset: offset, sizeLimit: sizeLimit,
                              readOnly: readOnly, device: device, node: node)
        }
        throw AttachError("no free loop device for \(backingFile): other processes took every free index "
            + "16 times in a row")
    }

    /// The node may appear a moment after GET_FREE created the device (devtmpfs, udev), as losetup knows.
    /// A /dev that never gets it (a container's tmpfs with only /dev/loop-control passed in) gets a private
    /// node made from sysfs's device number instead, so no host /dev bind is needed.
    private static func openDeviceNode(index: Int, readOnly: Bool) throws -> (FileDescriptor, BlockDeviceNode?) {
        let path = "/dev/loop\(index)"
        let mode = readOnly ? O_RDONLY : O_RDWR
        var opened: FileDescriptor?
        var missing = false
        try Poll.until(seconds: 0.4, interval: 0.025) {
            do {
                opened = try FileDescriptor.open(path, mode)
                return true
            } catch let error as SystemError where error.errno == ENOENT || error.errno == EACCES {
                missing = error.errno == ENOENT
                return false
            }
        }
        if let opened { return (opened, nil) }
        guard missing else { return (try FileDescriptor.open(path, mode), nil) }
        let node = try BlockDeviceNode(name: "loop\(index)")
        do {
            return (try FileDescriptor.open(node.path, mode), node)
        } catch {
            node.remove()
            throw error
        }
    }

    /// Releases the device: fsync (what was written reaches the backing file), LOOP_CLR_FD, close. While
    /// the device is still mounted somewhere the kernel only marks it for autoclear and frees it on the last
    /// unmount. Every step runs; the first error is thrown. Safe to call twice.
    public func detach() throws {
        guard !detached.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var errors = Teardown.Errors()
        errors.attempt("fsync \(path)") { try syscall("fsync", path: path) { fsync(device.rawValue) } }
        errors.attempt("LOOP_CLR_FD \(path)") { try Self.clearFD(device) }
        errors.attempt("close \(path)") { try device.close() }
        node?.remove()
        try errors.rethrow()
        waitUntilReleased()
    }

    /// If someone else had the device open at LOOP_CLR_FD, the kernel frees it on their last close; give
    /// that a moment so a detached image is really free when detach returns (a mount keeps it longer).
    private func waitUntilReleased() {
        let ours = LoopDeviceTable.Entry(device: kernelPath, backingFile: backingFile, offset: offset)
        if !LoopDeviceTable.waitUntilFree(ours, seconds: 1) {
            Log.debug("\(path) is still open elsewhere; it frees itself on its last close")
        }
    }

    /// LOOP_CLR_FD on a device some other (dead) process configured, for `cleanup`; `devicePath` is its
    /// kernel path (/dev/loopN), reached through a private node when /dev lacks it.
    public static func clear(_ devicePath: String) throws {
        var node: BlockDeviceNode?
        if access(devicePath, F_OK) != 0, let name = devicePath.split(separator: "/").last {
            node = try BlockDeviceNode(name: String(name))
        }
        defer { node?.remove() }
        let device = try FileDescriptor.open(node?.path ?? devicePath, O_RDONLY)
        defer { try? device.close() }
        try clearFD(device)
    }

    private static func clearFD(_ device: FileDescriptor) throws {
        do {
            try device.ioctl("LOOP_CLR_FD", cnbd_loop_clr_fd)
        } catch let error as SystemError where error.errno == ENXIO {
            // Already free: the kernel cleared it.
        }
    }

    /// Never blocks: the owner detaches. AUTOCLEAR makes the kernel free the device when `device`
    /// closes with this object.
    deinit {
        if !detached.load(ordering: .acquiring) { Log.warning("\(path) was not detached by its owner; closing it (autoclear frees it)") }
    }
}

extension LoopDevice {
    /// The open whole-device descriptor, for ioctls on the device itself (BLKPG). Owned by this object.
    package var descriptor: FileDescriptor { device }

    /// fsync(2) of the device: its dirty pages reach the backing file.
    public func flush() throws {
        let fd = device.rawValue
        guard fd >= 0 else { return }
        try syscall("fsync", path: path) { fsync(fd) }
    }
}
