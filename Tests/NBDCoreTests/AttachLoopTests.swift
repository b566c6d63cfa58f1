import Glibc
import NBDCore
import TestSupport
import Testing

private let skip = Host.missing(programs: AttachFixture.programs, root: true, loop: true)

@Suite(.enabled(if: skip == nil, "attach loop tests: \(skip ?? "")"), .timeLimit(.minutes(2)))
struct AttachLoopTests {
    @Test func rawVolumeThroughLoopDeviceReadsAndWrites() throws {
        let fixture = try AttachFixture()
        let image = try Attacher.attach(AttachRequest(image: fixture.raw, format: "raw", mode: .loop), ledger: nil)
        #expect(image.mode == .loop)
        #expect(image.disk.size == fixture.partitionOffset + fixture.partitionSize + (1 << 20))
        let device = try image.blockDevice(number: 1, offset: fixture.partitionOffset, size: fixture.partitionSize)
        #expect(device.hasPrefix("/dev/loop"))
        do {
            let volume = try FileBlockReader(path: device)
            #expect(volume.size == fixture.partitionSize)
            #expect(try volume.read(at: 1080, count: 2) == [0x53, 0xEF])
        }

        // The first 1024 bytes of ext4 are unused: a marker there harms nothing.
        let marker = Array("written through the loop device".utf8)
        let writer = try FileDescriptor.open(device, O_WRONLY)
        try writer.writeAll(marker)
        try writer.close()
        try image.flush()
        try image.detach()
        try image.detach()

        let written = try FileBlockReader(path: fixture.raw).read(at: fixture.partitionOffset, count: marker.count)
        #expect(written == marker)
        #expect(LoopDeviceTable.devices(backedBy: fixture.raw).isEmpty)
    }

    @Test func twoAttachesGetDifferentDevices() throws {
        let first = try AttachFixture()
        let second = try AttachFixture()
        let a = try Attacher.attach(AttachRequest(image: first.raw, format: "raw", mode: .loop), ledger: nil)
        defer { try? a.detach() }
        let b = try Attacher.attach(AttachRequest(image: second.raw, format: "raw", mode: .loop), ledger: nil)
        defer { try? b.detach() }
        let deviceA = try a.blockDevice(number: 1, offset: first.partitionOffset, size: first.partitionSize)
        let deviceB = try b.blockDevice(number: 1, offset: second.partitionOffset, size: second.partitionSize)
        #expect(deviceA != deviceB)
        #expect(try a.blockDevice(number: 1, offset: first.partitionOffset, size: first.partitionSize) == deviceA)
    }

    @Test func readOnlyAttachRefusesWrites() throws {
        let fixture = try AttachFixture()
        let image = try Attacher.attach(
            AttachRequest(image: fixture.raw, format: "raw", readOnly: true, mode: .loop), ledger: nil)
        defer { try? image.detach() }
        let device = try image.blockDevice(number: 1, offset: fixture.partitionOffset, size: fixture.partitionSize)
        // Linux opens a read-only block device for writing and refuses the write itself.
        let error = #expect(throws: SystemError.self) {
            let writer = try FileDescriptor.open(device, O_WRONLY)
            try writer.writeAll([1, 2, 3])
        }
        #expect(error?.errno == EPERM || error?.errno == EROFS || error?.errno == EACCES)
    }

    @Test func loopRefusesQCOW2() throws {
        let fixture = try AttachFixture()
        let error = #expect(throws: AttachError.self) {
            _ = try Attacher.attach(AttachRequest(image: fixture.qcow2, format: "qcow2", mode: .loop), ledger: nil)
        }
        #expect(error?.description.contains("qcow2") == true)
    }
}
