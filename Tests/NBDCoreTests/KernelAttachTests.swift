import Glibc
import NBDCore
import Testing

/// The kernel nbd path, for real: qemu-nbd → our handshake → the driver (netlink or ioctl) → BLKPG → mount →
/// write → unmount → detach. This host has no nbd driver: these run inside the VM (make vm-test), and the host
/// checks the images afterwards (tests/vm/verify-host). Serialized: they share the driver and the images.
@Suite(.serialized, .enabled(if: KernelVM.missing == nil, "\(KernelVM.missing ?? "")"))
struct KernelAttachTests {
    @Test func netlinkFamilyResolvesAndStatusLists() throws {
        #expect(NetlinkNBDControl.available)
        #expect(NBDKernelSupport.probe() == .netlink)
        #expect(try NetlinkNBDControl.status().count >= 1)
    }

    @Test func netlinkAttachMountWriteDetach() throws {
        try attachMountWrite(NetlinkNBDControl(), image: "gpt-netlink.qcow2", file: "netlink.txt",
                             text: "written in the VM via netlink")
    }

    @Test func ioctlAttachMountWriteDetach() throws {
        try attachMountWrite(IoctlNBDControl(), image: "gpt-ioctl.qcow2", file: "ioctl.txt",
                             text: "written in the VM via ioctl")
    }

    private func attachMountWrite(_ control: NBDKernelControl, image: String, file: String, text: String) throws {
        let export = try KernelTestExport(image: KernelVM.image(image))
        let identifier = "qemu-chroot:test-\(control.mechanism)"
        let attachment = try NBDKernelAttachment(control: control, request: KernelVM.request(export, identifier: identifier))
        let device = attachment.device
        #expect(BlockSysfs.nbdAttached(device.index))
        if control.mechanism == "netlink" { #expect(BlockSysfs.nbdBackend(device.index) == identifier) }
        let range = try KernelVM.gptPartition(2, on: try #require(device.descriptor))
        let node = try attachment.blockDevice(number: 2, offset: range.start, size: range.size)
        #expect(try attachment.blockDevice(number: 0, offset: 0, size: 0) == device.path)
        try KernelVM.withMountedExt4(node) { root in
            #expect(try KernelVM.readFile("\(root)/host.txt") == "made on host\n")
            try KernelVM.writeFile("\(root)/\(file)", text)
        }
        try attachment.flush()
        try attachment.detach()
        try attachment.detach()
        #expect(!BlockSysfs.nbdAttached(device.index), "/dev/\(device.name) is free after detach")
        export.stop()
    }

    @Test func blkpgMapsAPartitionTheKernelCannotSee() throws {
        let export = try KernelTestExport(image: KernelVM.image("bare.qcow2"))
        let device = try NetlinkNBDControl().attach(KernelVM.request(export))
        defer { try? device.detach() }
        let partitions = BlockPartitions(disk: device.name, descriptor: try #require(device.descriptor))
        let sysfs = "/sys/class/block/\(device.name)p1"
        #expect(!BlockSysfs.exists(sysfs), "no table: the kernel made no partition")
        let node = try partitions.map(number: 1, start: 1 << 20, size: 32 << 20)
        #expect(BlockSysfs.attribute("\(sysfs)/start") == "2048")
        try KernelVM.withMountedExt4(node) { root in
            try KernelVM.writeFile("\(root)/blkpg.txt", "written in the VM via a BLKPG partition")
        }
        try partitions.removeAll()
        #expect(!BlockSysfs.exists(sysfs), "BLKPG_DEL removed it")
        try device.detach()
    }

    @Test func twoAttachesAtOnceGetDifferentDevices() throws {
        let first = try KernelTestExport(image: KernelVM.image("gpt-netlink.qcow2"), readOnly: true)
        let second = try KernelTestExport(image: KernelVM.image("bare.qcow2"), readOnly: true)
        let a = try NetlinkNBDControl().attach(KernelVM.request(first, readOnly: true))
        defer { try? a.detach() }
        let b = try NetlinkNBDControl().attach(KernelVM.request(second, readOnly: true))
        defer { try? b.detach() }
        #expect(a.index != b.index)
        #expect(BlockSysfs.nbdAttached(a.index) && BlockSysfs.nbdAttached(b.index))
    }

    @Test func explicitBusyDeviceIsRefusedClearly() throws {
        let first = try KernelTestExport(image: KernelVM.image("gpt-netlink.qcow2"), readOnly: true)
        let second = try KernelTestExport(image: KernelVM.image("bare.qcow2"), readOnly: true)
        let taken = try NetlinkNBDControl().attach(KernelVM.request(first, readOnly: true))
        defer { try? taken.detach() }
        let error = #expect(throws: NBDKernelError.self) {
            try NetlinkNBDControl().attach(KernelVM.request(second, readOnly: true, index: taken.index))
        }
        #expect(error == .deviceBusy("/dev/\(taken.name)"))
        #expect(error?.description.hasPrefix("device /dev/\(taken.name) is busy") == true)
    }

    @Test func multiConnHandsOneSocketPerConnection() throws {
        let export = try KernelTestExport(image: KernelVM.image("gpt-netlink.qcow2"), shared: true, readOnly: true)
        let device = try NetlinkNBDControl().attach(KernelVM.request(export, connections: 2, readOnly: true))
        defer { try? device.detach() }
        let range = try KernelVM.gptPartition(2, on: try #require(device.descriptor))
        #expect(range.start == 2 << 20)
    }

    /// DISCONNECT_ON_CLOSE: when our last fd on the device closes (as when the process dies) the kernel
    /// disconnects by itself, without DISCONNECT or cleanup.
    @Test func lastCloseFreesTheDevice() throws {
        let export = try KernelTestExport(image: KernelVM.image("bare.qcow2"), readOnly: true)
        let device = try NetlinkNBDControl().attach(KernelVM.request(export, readOnly: true))
        #expect(BlockSysfs.nbdAttached(device.index))
        try #require(device.descriptor).close()
        Poll.until(seconds: 5) { !BlockSysfs.nbdAttached(device.index) }
        #expect(!BlockSysfs.nbdAttached(device.index), "/dev/\(device.name) freed itself on last close")
        Poll.until(seconds: 5) { export.serverExited }
        #expect(export.serverExited, "qemu-nbd saw the disconnect and exited")
        try? device.detach()
    }

    /// A server that dies under an attached device must not hang or break detach, for either mechanism. The
    /// flush may wait for the request timeout (5 s here) before it fails; that bounds detach.
    @Test(arguments: ["netlink", "ioctl"])
    func detachSurvivesADeadServer(mechanism: String) throws {
        let export = try KernelTestExport(image: KernelVM.image("bare.qcow2"), readOnly: true)
        let control: NBDKernelControl = mechanism == "netlink" ? NetlinkNBDControl() : IoctlNBDControl()
        let device = try control.attach(KernelVM.request(export, readOnly: true, timeout: 5))
        kill(export.server.pid, SIGKILL)
        Poll.until(seconds: 5) { export.serverExited }
        let started = Monotonic.now
        // The flush cannot reach the dead server: detach says so (EIO on the device) but still runs every step.
        let error = #expect(throws: SystemError.self) { try device.detach() }
        #expect(error?.errno == EIO && error?.path == device.path)
        #expect(Monotonic.now - started < 15, "detach is bounded by the request timeout, not by the dead server")
        #expect(!BlockSysfs.nbdAttached(device.index), "the device was disconnected all the same")
        try device.detach()
    }
}
