import Glibc
import NBDCore
import TestSupport
import Testing

private let skip = Host.missing(programs: AttachFixture.programs + ["qemu-storage-daemon"], root: true,
                                loop: true, fuse: true)

@Suite(.enabled(if: skip == nil, "attach fuse tests: \(skip ?? "")"), .timeLimit(.minutes(2)),
       .prebuiltFixtures(AttachFixture.specs))
struct AttachFuseTests {
    @Test func qcow2VolumeThroughFuseExportReadsAndWrites() throws {
        let fixture = try AttachFixture()
        let ledger = try RunLedger(root: fixture.directory.file("runs"))
        let image = try Attacher.attach(AttachRequest(image: fixture.qcow2, format: .qcow2, mode: .fuse),
                                        ledger: ledger)
        #expect(image.mode == .fuse)
        #expect(try image.disk.read(at: 512, count: 8) == Array("EFI PART".utf8))
        let device = try image.blockDevice(for: fixture.volume(of: image))
        let exportFile = try #require(LoopDeviceTable.entry(for: device)).backingFile
        #expect(ledger.entries.count == 4, "directory, daemon, FUSE mount, loop device: \(ledger.entries)")
        // The daemon serves every write of the image: all its threads run at its raised priority.
        let daemon = ledger.entries.compactMap { entry -> Int32? in
            if case .child(_, let pid, _) = entry.resource { pid } else { nil }
        }.first
        let pid = try #require(daemon)
        let threads = try FileTree.entries("/proc/\(pid)/task")
        #expect(!threads.isEmpty)
        for thread in threads {
            // Field 19 of stat is the nice value; the command name (field 2) has no spaces here.
            let fields = ProcFS.readText("/proc/\(pid)/task/\(thread)/stat")?.split(separator: " ") ?? []
            #expect(fields.count > 18 && fields[18] == "\(QemuStorageDaemonExport.daemonNice)", "thread \(thread): \(fields)")
        }
        let marker = "written through FUSE and loop"
        let found = try fixture.writeMarker(marker, to: device)
        #expect(found.size == fixture.partitionSize)
        #expect(found.magic == [0x53, 0xEF])
        try image.detach()
        try image.detach()

        #expect(ledger.entries.isEmpty)
        ledger.finish()
        #expect(access(ledger.directory, F_OK) != 0)
        #expect(!ProcFS.mountPoints().contains(exportFile))
        #expect(LoopDeviceTable.devices(backedBy: exportFile).isEmpty)
        try Command.check("qemu-img", ["check", "-q", fixture.qcow2])
        #expect(try fixture.qcow2Contents(at: fixture.partitionOffset, count: marker.utf8.count) == Array(marker.utf8))
    }

    @Test func readOnlyExportKeepsTheImageUnchanged() throws {
        let fixture = try AttachFixture()
        let before = try Command.check("sha256sum", [fixture.qcow2])
        let image = try Attacher.attach(
            AttachRequest(image: fixture.qcow2, format: .qcow2, readOnly: true, mode: .fuse), ledger: nil)
        defer { try? image.detach() }
        let device = try image.blockDevice(for: fixture.volume(of: image))
        #expect(throws: SystemError.self) {
            let writer = try FileDescriptor.open(device, O_WRONLY)
            try writer.writeAll([1, 2, 3])
        }
        try image.detach()
        #expect(try Command.check("sha256sum", [fixture.qcow2]) == before)
    }

    @Test func autoPicksFuseForQCOW2WithoutTheNBDDriver() throws {
        try #require(!Host.hasNBDModule, "this host has nbd; auto would pick it")
        let fixture = try AttachFixture()
        let choice = try Attacher.choose(for: AttachRequest(image: fixture.qcow2, format: .qcow2))
        #expect(choice.backend.mode == .fuse)
        #expect(choice.reason.contains("kernel nbd driver not loaded"))
        #expect(choice.reason.contains("qemu-storage-daemon FUSE export + loop device"))
        let raw = try Attacher.choose(for: AttachRequest(image: fixture.raw, format: .raw))
        #expect(raw.backend.mode == .loop)
        let withDevice = try Attacher.choose(for: AttachRequest(image: fixture.raw, format: .raw, devicePath: "/dev/nbd3"))
        #expect(withDevice.reason.hasSuffix("; device_path /dev/nbd3 is not used"))
        #expect(throws: AttachError.self) {
            try Attacher.choose(for: AttachRequest(image: fixture.raw, format: .raw, mode: .loop, devicePath: "/dev/nbd3"))
        }
    }

    @Test func missingBackingFileFailsWithTheDaemonsMessage() throws {
        let fixture = try AttachFixture()
        let orphan = fixture.directory.file("orphan.qcow2")
        try Command.check("qemu-img", ["create", "-q", "-f", "qcow2", "-u", "-b", "/nonexistent/base.raw", "-F", "raw",
                                       orphan, "20M"])
        let ledger = try RunLedger(root: fixture.directory.file("runs"))
        let error = #expect(throws: AttachError.self) {
            _ = try Attacher.attach(AttachRequest(image: orphan, format: .qcow2, mode: .fuse), ledger: ledger)
        }
        #expect(error?.description.contains("qemu-storage-daemon could not export") == true, "\(error.map { "\($0)" } ?? "")")
        #expect(error?.description.contains("/nonexistent/base.raw") == true)
        // The failed attach undid everything it recorded.
        #expect(ledger.entries.isEmpty)
        ledger.finish()
        #expect(access(ledger.directory, F_OK) != 0)
    }

    @Test func formatThatContradictsTheHeaderIsRefused() throws {
        let fixture = try AttachFixture()
        let error = #expect(throws: AttachError.self) {
            _ = try Attacher.attach(AttachRequest(image: fixture.qcow2, format: .raw, mode: .fuse), ledger: nil)
        }
        #expect(error?.description.contains("is qcow2 by its header") == true)
    }
}
