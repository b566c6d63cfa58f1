import Glibc
import NBDCore
import TestSupport
import Testing

/// BLKPG on a loop device, which works on this host (no partition parsers, no nbd): the same helper the nbd path
/// uses, checked here on every `make test`. losetup only makes the fixture.
@Suite(.serialized, .enabled(if: Host.missing(programs: ["losetup", "mkfs.ext4"], root: true, loop: true) == nil,
                             "\(Host.missing(programs: ["losetup", "mkfs.ext4"], root: true, loop: true) ?? "")"))
struct KernelBlockPartitionLoopTests {
    /// A 16 MiB loop device without PARTSCAN whose bytes 1 MiB..9 MiB hold an ext4 filesystem; detached by path.
    final class LoopFixture {
        let directory: TemporaryDirectory
        let device: String
        let descriptor: FileDescriptor
        /// Owned here so its partitions go before the loop device does, also when a test fails midway: a
        /// detached loop device without PARTSCAN keeps BLKPG partitions.
        let partitions: BlockPartitions
        var name: String { String(device.dropFirst("/dev/".count)) }

        init() throws {
            directory = try TemporaryDirectory("kernel-blkpg")
            let image = directory.file("disk.raw")
            try Command.check("truncate", ["-s", "16M", image])
            try Command.check("mkfs.ext4", ["-q", "-F", "-E", "offset=\(1 << 20)", image, "8192k"])
            device = try Command.check("losetup", ["--find", "--show", image]).filter { !$0.isWhitespace }
            descriptor = try FileDescriptor.open(device, O_RDWR)
            partitions = BlockPartitions(disk: String(device.dropFirst("/dev/".count)), descriptor: descriptor)
        }

        deinit {
            try? partitions.removeAll()
            try? descriptor.close()
            _ = try? Command.run("losetup", ["-d", device])
        }
    }

    @Test func addMapsTheRangeAndDeleteRemovesIt() throws {
        let loop = try LoopFixture()
        let partitions = loop.partitions
        let node = try partitions.map(number: 1, start: 1 << 20, size: 8 << 20)
        let sysfs = "/sys/class/block/\(loop.name)p1"
        #expect(BlockSysfs.attribute("\(sysfs)/start") == "2048")
        #expect(BlockSysfs.attribute("\(sysfs)/size") == "16384")
        // The partition node starts at the filesystem: the ext4 magic 0xEF53 sits at byte 1080.
        var magic = [UInt8](repeating: 0, count: 2)
        let partition = try FileDescriptor.open(node, O_RDONLY)
        _ = try magic.withUnsafeMutableBytes { try partition.pread(into: $0, at: 1080) }
        try partition.close()
        #expect(magic == [0x53, 0xEF])
        #expect(try partitions.map(number: 1, start: 1 << 20, size: 8 << 20) == node, "mapping twice reuses it")

        try partitions.removeAll()
        #expect(!BlockSysfs.exists(sysfs))
        try partitions.removeAll()
    }

    @Test func overlapAndMisalignmentAreExplained() throws {
        let loop = try LoopFixture()
        let partitions = loop.partitions
        _ = try partitions.map(number: 1, start: 1 << 20, size: 8 << 20)
        let overlap = #expect(throws: SystemError.self) { try partitions.map(number: 2, start: 4 << 20, size: 1 << 20) }
        #expect(overlap?.errno == EBUSY)
        #expect(overlap?.description.contains("overlaps") == true)
        let misaligned = #expect(throws: SystemError.self) { try partitions.map(number: 3, start: 10_000_001, size: 1 << 20) }
        #expect(misaligned?.errno == EINVAL)
        #expect(throws: NBDKernelError.self) { try partitions.map(number: 300, start: 12 << 20, size: 1 << 20) }
        #expect(throws: NBDKernelError.self) { try partitions.map(number: 0, start: 12 << 20, size: 1 << 20) }
        try partitions.removeAll()
    }

    @Test func aPartitionTheKernelMadeDifferentlyIsRefused() throws {
        let loop = try LoopFixture()
        let ours = loop.partitions
        _ = try ours.map(number: 1, start: 1 << 20, size: 8 << 20)
        // A second mapper sees partition 1 already present (as if the kernel's parser had made it) at other bytes.
        let theirs = BlockPartitions(disk: loop.name, descriptor: loop.descriptor)
        #expect(throws: NBDKernelError.self) { try theirs.map(number: 1, start: 2 << 20, size: 4 << 20) }
        #expect(try theirs.map(number: 1, start: 1 << 20, size: 8 << 20) == "/dev/\(loop.name)p1")
        try theirs.removeAll()
        // disk_size rewrote the table after the kernel's scan: same start, larger size → resized in place.
        let grown = BlockPartitions(disk: loop.name, descriptor: loop.descriptor)
        #expect(try grown.map(number: 1, start: 1 << 20, size: 12 << 20) == "/dev/\(loop.name)p1")
        #expect(BlockSysfs.attribute("/sys/class/block/\(loop.name)p1/size") == "24576")
        try grown.removeAll()
        #expect(BlockSysfs.exists("/sys/class/block/\(loop.name)p1"), "only the one who added it deletes it")
        try ours.removeAll()
    }

    /// udev's blkid probe holds a partition open for a moment after it was written and closed: removal waits.
    @Test func aPartitionHeldOpenBrieflyIsStillRemoved() throws {
        let loop = try LoopFixture()
        let node = try loop.partitions.map(number: 1, start: 1 << 20, size: 8 << 20)
        let holder = try FileDescriptor.open(node, O_RDONLY)
        let closer = try HostThread(name: "probe") {
            HostThread.sleep(0.3)
            try holder.close()
        }
        defer { closer.join() }
        try loop.partitions.removeAll()
        #expect(!BlockSysfs.exists("/sys/class/block/\(loop.name)p1"))
    }
}

/// On a host without the nbd driver the attach fails with a sentence that says so and how to fix it.
@Suite(.enabled(if: !BlockSysfs.nbdDriverLoaded, "the nbd driver is loaded here"))
struct KernelDriverAbsentTests {
    @Test func netlinkSaysTheDriverIsNotLoaded() throws {
        #expect(!NetlinkNBDControl.available)
        #expect(NBDKernelSupport.probe().summary.contains("modprobe nbd"))
        let error = #expect(throws: NBDKernelError.self) {
            try NetlinkNBDControl().attach(NBDKernelRequest(sockets: [try FileDescriptor.open("/dev/null", O_RDONLY)],
                                                            size: 1 << 20, serverFlags: 0x0c6d))
        }
        #expect(error == .driverNotLoaded)
        #expect(error?.description.contains("modprobe nbd") == true)
        #expect(throws: NBDKernelError.driverNotLoaded) {
            try IoctlNBDControl().attach(NBDKernelRequest(sockets: [try FileDescriptor.open("/dev/null", O_RDONLY)],
                                                          size: 1 << 20, serverFlags: 0x0c6d))
        }
    }

    @Test func nbdBackendsExplainWhyTheyCannotAttach() throws {
        let directory = try TemporaryDirectory("kernel-absent")
        let image = directory.file("disk.raw")
        let file = try FileDescriptor.open(image, O_WRONLY | O_CREAT)
        try syscall("ftruncate", path: image) { ftruncate(file.rawValue, 1 << 20) }
        try file.close()
        let request = AttachRequest(image: image, format: .raw, mode: .nbd)
        for backend in [NBDAttachBackend.netlink, NBDAttachBackend.ioctl] {
            #expect(AttachBackendRegistry.backend(for: backend.mode) != nil, "\(backend.mode.rawValue) is registered")
            #expect(backend.unavailableReason(for: request)?.contains("modprobe nbd") == true
                || backend.unavailableReason(for: request)?.contains("root") == true)
        }
        // nbd-ioctl has nothing to do with netlink: its sentence must not send the user looking for a family.
        #expect(NBDAttachBackend.ioctl.unavailableReason(for: request)?.contains("netlink") == false)
        #expect(!NBDKernelError.driverNotLoaded.description.contains("netlink"))
        var wrongDevice = request
        wrongDevice.devicePath = "/dev/sda"
        #expect(NBDAttachBackend.netlink.unavailableReason(for: wrongDevice) == "device_path /dev/sda is not an nbd device (expected /dev/nbdN)")
        let error = #expect(throws: AttachError.self) { _ = try Attacher.attach(request, ledger: nil) }
        #expect(error?.description.contains("modprobe nbd") == true)
    }
}
