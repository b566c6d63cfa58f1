import Glibc
import NBDCore
import TestSupport
import Testing

private let skip = Host.missing(programs: AttachFixture.programs, root: true, loop: true)

@Suite(.enabled(if: skip == nil, "attach loop tests: \(skip ?? "")"), .timeLimit(.minutes(2)),
       .prebuiltFixtures(AttachFixture.specs))
struct AttachLoopTests {
    @Test func rawVolumeThroughLoopDeviceReadsAndWrites() throws {
        let fixture = try AttachFixture()
        let image = try Attacher.attach(AttachRequest(image: fixture.raw, format: .raw, mode: .loop), ledger: nil)
        #expect(image.mode == .loop)
        #expect(image.disk.size == 20 << 20)
        let device = try image.blockDevice(for: fixture.volume(of: image))
        #expect(device.hasPrefix("/dev/loop"))
        let marker = "written through the loop device"
        let found = try fixture.writeMarker(marker, to: device)
        #expect(found.size == fixture.partitionSize)
        #expect(found.magic == [0x53, 0xEF])
        try image.flush()
        try image.detach()
        try image.detach()

        let written = try FileBlockReader(path: fixture.raw).read(at: fixture.partitionOffset, count: marker.utf8.count)
        #expect(written == Array(marker.utf8))
        #expect(LoopDeviceTable.devices(backedBy: fixture.raw).isEmpty)
    }

    @Test func twoAttachesGetDifferentDevices() throws {
        let first = try AttachFixture()
        let second = try AttachFixture()
        let a = try Attacher.attach(AttachRequest(image: first.raw, format: .raw, mode: .loop), ledger: nil)
        defer { try? a.detach() }
        let b = try Attacher.attach(AttachRequest(image: second.raw, format: .raw, mode: .loop), ledger: nil)
        defer { try? b.detach() }
        let deviceA = try a.blockDevice(for: first.volume(of: a))
        let deviceB = try b.blockDevice(for: second.volume(of: b))
        #expect(deviceA != deviceB)
        #expect(try a.blockDevice(for: first.volume(of: a)) == deviceA)
    }

    @Test func readOnlyAttachRefusesWrites() throws {
        let fixture = try AttachFixture()
        let image = try Attacher.attach(
            AttachRequest(image: fixture.raw, format: .raw, readOnly: true, mode: .loop), ledger: nil)
        defer { try? image.detach() }
        let device = try image.blockDevice(for: fixture.volume(of: image))
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
            _ = try Attacher.attach(AttachRequest(image: fixture.qcow2, format: .qcow2, mode: .loop), ledger: nil)
        }
        #expect(error?.description.contains("qcow2") == true)
    }
}

@Suite(.enabled(if: Host.missing(root: true, loop: true) == nil, "loop device tests: needs root and /dev/loop-control"))
struct LoopDeviceTests {
    @Test func directIOFallsBackWhereTheBackingFileCannotDoIt() throws {
        // tmpfs has no O_DIRECT.
        let backing = "/dev/shm/qemu-chroot-loop-dio-\(getpid())"
        try Command.check("truncate", ["-s", "1M", backing])
        defer { unlink(backing) }
        let device = try LoopDevice.attach(backingFile: backing, directIO: true)
        #expect(LoopDeviceTable.entry(for: device.path)?.backingFile == backing)
        try device.detach()
        try device.detach()
        #expect(LoopDeviceTable.entry(for: device.path)?.backingFile != backing)
    }

    @Test func concurrentAttachesRaceForIndicesAndAllWin() async throws {
        // LOOP_CTL_GET_FREE hands the same index to callers racing for it; the losers get EBUSY and retry.
        let backing = "/dev/shm/qemu-chroot-loop-race-\(getpid())"
        try Command.check("truncate", ["-s", "1M", backing])
        defer { unlink(backing) }
        let devices = try await withThrowingTaskGroup(of: LoopDevice.self) { group in
            for index in 0..<6 {
                group.addTask { try LoopDevice.attach(backingFile: backing, offset: UInt64(index) * 512, readOnly: true) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(devices.map(\.path)).count == 6)
        for device in devices {
            #expect(LoopDeviceTable.entry(for: device.path)?.offset == device.offset)
            try device.detach()
        }
        #expect(LoopDeviceTable.devices(backedBy: backing).isEmpty)
    }

    @Test func misalignedOffsetIsRefused() throws {
        let error = #expect(throws: AttachError.self) { _ = try LoopDevice.attach(backingFile: "/dev/null", offset: 100) }
        #expect(error?.description.contains("multiples of 512") == true)
    }
}
