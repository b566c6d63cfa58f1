import CNBD
import Glibc
import NBDCore
import TestSupport
import Testing

private let skip = Host.missing(programs: AttachFixture.programs + ["qemu-storage-daemon"], root: true,
                                loop: true, fuse: true)

@Suite(.enabled(if: skip == nil, "attach cleanup tests: \(skip ?? "")"), .timeLimit(.minutes(2)),
       .prebuiltFixtures(AttachFixture.specs))
struct AttachCleanupTests {
    static let helper = BuiltProduct.path("attach-hold")

    /// The non-private cases mount in the host namespace deliberately (see Tests/AttachHold/main.swift):
    /// releasing a killed run's host mount is what they check. Everything stays under the fixture directory.
    @Test(arguments: [(ImageFormat.qcow2, AttachMode.fuse, false), (.raw, .loop, false), (.qcow2, .fuse, true)])
    func killedRunIsReleasedByCleanup(format: ImageFormat, mode: AttachMode, privateNamespace: Bool) throws {
        try #require(access(Self.helper, X_OK) == 0, "\(Self.helper) is missing: swift build first")
        let fixture = try AttachFixture()
        let root = fixture.directory.file("runs")
        let target = fixture.directory.file("mnt")
        mkdir(target, 0o755)
        defer { if ProcFS.mountPoints().contains(target) { umount2(target, Int32(MNT_DETACH)) } }
        let image = format == .qcow2 ? fixture.qcow2 : fixture.raw

        let run = try HeldRun(helper: Self.helper, arguments: [
            root, image, mode.rawValue, "1", target] + (privateNamespace ? ["private"] : []))
        defer { run.child.terminate(grace: 1) }
        let record = try #require(RunLedger.findAll(root: root).first)
        let loops = record.entries.compactMap { entry -> LoopDeviceTable.Entry? in
            guard case .loop(let device, let backing, let offset, _) = entry.resource else { return nil }
            return LoopDeviceTable.Entry(device: device, backingFile: backing, offset: offset)
        }
        let daemons = record.entries.compactMap { entry -> (pid_t, UInt64)? in
            guard case .child(_, let pid?, let start?) = entry.resource else { return nil }
            return (pid, start)
        }
        // The volume is partition 1 of the loop device over the whole disk, which is what the ledger records.
        let wholeDisk = String(run.device.dropLast("p1".count))
        #expect(run.device.hasSuffix("p1"))
        #expect(loops.map(\.device) == [wholeDisk])
        #expect(LoopDeviceTable.entry(for: wholeDisk) == loops.first)
        #expect(record.entries.contains { entry in
            guard case .loop(let device, _, _, let sequence?) = entry.resource else { return false }
            return sequence == LoopDeviceTable.diskSequence(of: device)
        }, "the held loop device carries its disk sequence")
        #expect(daemons.count == (mode == .fuse ? 1 : 0))
        #expect(RunLedger.findStale(root: root).isEmpty, "the run still lives")

        run.child.signal(SIGKILL)
        #expect(run.child.wait() == .signaled(SIGKILL))
        let stale = RunLedger.findStale(root: root)
        #expect(stale.map(\.record.runID) == [record.runID])

        var lines: [String] = []
        let dry = StaleRunCleaner(dryRun: true) { lines.append($0) }
        for run in stale { #expect(dry.clean(run)) }
        if privateNamespace {
            #expect(record.mountNamespace != nil && record.mountNamespace != ProcFS.mountNamespace(of: "self"))
            // The id that tells the run's namespace from a later one with its inode (Linux 6.9+).
            #expect(ProcFS.mountNamespaceID(of: "self") == nil || record.mountNamespaceID != nil)
            #expect(lines.contains { $0.hasPrefix("would release process") && $0.hasSuffix("left in the mount namespace of run \(record.runID)") }, "\(lines)")
        } else {
            #expect(record.mountNamespace == nil)
            #expect(lines.contains("would release mount \(target)"))
        }
        #expect(access(stale[0].directory, F_OK) == 0, "a dry run removes nothing")

        lines = []
        let cleaner = StaleRunCleaner { lines.append($0) }
        for run in stale { #expect(cleaner.clean(run), "\(lines)") }
        print("cleanup of a killed \(mode.rawValue) run:\n  " + lines.joined(separator: "\n  "))
        if !privateNamespace {
            #expect(lines.contains("released mount \(target)"))
        } else {
            #expect(lines.contains { $0.hasPrefix("released process") && $0.hasSuffix("left in the mount namespace of run \(record.runID)") })
            let namespace = try #require(record.mountNamespace)
            #expect(!ProcFS.pids().contains { ProcFS.mountNamespace(of: String($0)) == namespace })
        }
        #expect(lines.last == "removed the record of run \(record.runID)")
        #expect(!ProcFS.mountPoints().contains(target))
        for loop in loops { #expect(LoopDeviceTable.devices(backedBy: loop.backingFile).isEmpty) }
        // Cleared with LO_FLAGS_PARTSCAN, the loop device drops its BLKPG partition once its last opener is gone:
        // the next user of that index does not find a stale one (unless that user, another process on this
        // shared machine, already configured the index again and made its own).
        let dropped = Poll.until(seconds: 3, interval: 0.02) {
            !BlockSysfs.exists("/sys/class/block/\(PathName.base(run.device))") || LoopDeviceTable.entry(for: wholeDisk) != nil
        }
        #expect(dropped, "\(run.device) outlived its loop device")
        for (pid, start) in daemons { #expect(!ProcFS.isAlive(pid, startTime: start)) }
        let fuseMounts = record.entries.compactMap { entry -> String? in
            if case .fuseMount(let path) = entry.resource { return path } else { return nil }
        }
        for path in fuseMounts { #expect(!ProcFS.mountPoints().contains(path)) }
        #expect(access(stale[0].directory, F_OK) != 0)
        #expect(RunLedger.findStale(root: root).isEmpty)
        if format == .qcow2 { try Command.check("qemu-img", ["check", "-q", image]) }
    }

    @Test func cleanupLeavesALoopDeviceWithAnotherBackingFileAlone() throws {
        try withLiveWholeDiskLoop { fixture, root, device in
            // A dead owner whose record names our device with a different backing file: the device was reused.
            let run = try Self.staleRun(root: root, id: "0123456789abcdef",
                                        .loop(device: device, backingFile: "/elsewhere.img", offset: 0))
            var lines: [String] = []
            #expect(StaleRunCleaner { lines.append($0) }.clean(run))
            #expect(LoopDeviceTable.entry(for: device)?.backingFile == fixture.raw)
            #expect(lines == ["removed the record of run \(run.record.runID)"])
        }
    }

    /// The same file at the same offset on the same device, configured again since the record was written (by
    /// another run): the disk sequence tells, and cleanup leaves the live device alone.
    @Test func cleanupLeavesALoopDeviceConfiguredAgainAlone() throws {
        try withLiveWholeDiskLoop { _, root, device in
            let live = try #require(LoopDeviceTable.entry(for: device))
            let sequence = try #require(LoopDeviceTable.diskSequence(of: device), "the kernel has no diskseq (Linux 5.15+)")
            let run = try Self.staleRun(root: root, id: "0123456789abcdee",
                                        .loop(device: device, backingFile: live.backingFile, offset: live.offset,
                                              diskSequence: sequence - 1))
            var lines: [String] = []
            #expect(StaleRunCleaner(dryRun: true) { lines.append($0) }.clean(run))
            #expect(lines == ["would remove the record of run \(run.record.runID)"])
            lines = []
            #expect(StaleRunCleaner { lines.append($0) }.clean(run))
            #expect(LoopDeviceTable.entry(for: device) == live)
            #expect(LoopDeviceTable.diskSequence(of: device) == sequence)
            #expect(lines == ["removed the record of run \(run.record.runID)"])
        }
    }

    /// A raw fixture attached by loop with its volume mapped; `body` gets the ledger root to use and the
    /// whole-disk loop device, which stays attached until it returns.
    private func withLiveWholeDiskLoop(_ body: (AttachFixture, String, String) throws -> Void) throws {
        let fixture = try AttachFixture()
        let image = try Attacher.attach(AttachRequest(image: fixture.raw, format: .raw, mode: .loop), ledger: nil)
        defer { try? image.detach() }
        _ = try image.blockDevice(for: fixture.volume(of: image))
        let device = try image.blockDevice(number: 0, offset: 0, size: image.disk.size)
        try body(fixture, fixture.directory.file("runs"), device)
    }

    /// A dead owner's record holding `resource`, with its directory made under `root`.
    private static func staleRun(root: String, id: String, _ resource: LedgerResource) throws -> StaleRun {
        let record = RunRecord(runID: id, ownerPID: 1, ownerStartTime: 1, startedAt: 0, mountNamespace: nil,
                               entries: [LedgerEntry(id: 1, state: .held, resource: resource)])
        let run = StaleRun(directory: "\(root)/\(record.runID)", record: record)
        mkdir(root, 0o700)
        mkdir(run.directory, 0o700)
        try Command.check("touch", ["\(run.directory)/record.json"])
        return run
    }
}

/// The attach-hold helper, running, with the line it printed once attached and mounted.
private struct HeldRun {
    let child: ChildProcess
    let device: String

    init(helper: String, arguments: [String]) throws {
        var pipe: [Int32] = [0, 0]
        try syscall("pipe2") { cnbd_pipe_cloexec(&pipe) }
        let reader = FileDescriptor(adopting: pipe[0], path: "attach-hold stdout")
        var options = SpawnOptions()
        options.stdout = pipe[1]
        options.stderr = 2
        options.deathSignal = SIGKILL
        do {
            child = try ChildProcess.spawn(helper, arguments, options: options)
        } catch {
            close(pipe[1]); throw error
        }
        close(pipe[1])
        var line: [UInt8] = []
        while line.last != UInt8(ascii: "\n") {
            let byte = try reader.read(count: 1)
            if byte.isEmpty { break }
            line += byte
        }
        let fields = String(decoding: line, as: UTF8.self).split(separator: " ")
        guard fields.count == 2 else {
            child.terminate(grace: 1)
            throw AttachError("attach-hold did not attach (\(child.wait()))")
        }
        device = String(fields[1]).trimmingWhitespace()
    }
}
