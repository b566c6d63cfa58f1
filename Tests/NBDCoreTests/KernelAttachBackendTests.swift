import Glibc
import NBDCore
import Testing

/// The nbd attach backends through the Attacher, as the builder uses them: qemu-nbd + our client + the kernel,
/// the layout read through the attached image, the root partition mapped with BLKPG. Inside the VM only.
@Suite(.serialized, .enabled(if: KernelVM.missing == nil, "\(KernelVM.missing ?? "")"))
struct KernelAttachBackendTests {
    @Test func autoPicksNetlinkWhenTheFamilyResolves() throws {
        let request = AttachRequest(image: KernelVM.image("gpt-backend-nbd.qcow2"), format: .qcow2, mode: .auto)
        let choice = try Attacher.choose(for: request)
        #expect(choice.backend.mode == .nbd)
        #expect(choice.reason.contains("nbd"))
    }

    @Test(arguments: [AttachMode.nbd, .nbdIoctl])
    func attachMountWriteDetach(mode: AttachMode) throws {
        let image = KernelVM.image("gpt-backend-\(mode.rawValue).qcow2")
        let attached = try Attacher.attach(AttachRequest(image: image, format: .qcow2, mode: mode), ledger: nil)
        #expect(attached.mode == mode)
        let volume = try DiskLayout.read(from: attached.disk).volume(mountPartition: nil)
        #expect(volume.number == 2)
        let node = try attached.blockDevice(number: volume.number, offset: volume.offset, size: volume.size)
        #expect(try attached.blockDevice(number: volume.number, offset: volume.offset, size: volume.size) == node)
        try KernelVM.withMountedExt4(node) { root in
            try KernelVM.writeFile("\(root)/backend.txt", "written in the VM via attach mode \(mode.rawValue)")
        }
        try attached.flush()
        try attached.detach()
        try attached.detach()
        #expect(throws: (any Error).self) { _ = try attached.blockDevice(number: volume.number, offset: volume.offset, size: volume.size) }
    }

    @Test func busyDevicePathIsRefused() throws {
        let first = try Attacher.attach(AttachRequest(image: KernelVM.image("bare.qcow2"), format: .qcow2, readOnly: true,
                                                      mode: .nbd), ledger: nil)
        defer { try? first.detach() }
        let device = try first.blockDevice(number: 0, offset: 0, size: first.disk.size)
        let error = #expect(throws: NBDKernelError.self) {
            _ = try Attacher.attach(AttachRequest(image: KernelVM.image("gpt-netlink.qcow2"), format: .qcow2, readOnly: true,
                                                  mode: .nbd, devicePath: device), ledger: nil)
        }
        #expect(error == .deviceBusy(device))
    }
}
