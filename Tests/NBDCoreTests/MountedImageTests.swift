import Glibc
import NBDCore
import Testing
import TestSupport

/// `MountedImage` used the way an embedder would: in its own private mount namespace (a dedicated thread),
/// with its own ledger root, attach → layout → plan → mount → run → release, then nothing of the run may
/// remain: no mount, loop device, daemon, mount path or record.
@Suite(.serialized, .enabled(if: BusyboxDisk.requirements == nil, "\(BusyboxDisk.requirements ?? "")"),
       .timeLimit(.minutes(2)))
struct MountedImageTests {
    @Test func attachMountRunReleaseLeavesNothing() throws {
        let disk = try BusyboxDisk()
        let ledgerRoot = disk.directory.file("runs")
        let mountPath = disk.directory.file("mnt")
        let (output, held, runID) = try inPrivateMountNamespace { () throws -> (String, [LedgerResource], String) in
            let ledger = try RunLedger(root: ledgerRoot)
            defer { ledger.finish() }
            let image = try MountedImage(attaching: AttachRequest(image: disk.path, format: .qcow2), ledger: ledger)
            let out = OutputCollector()
            let held: [LedgerResource]
            do {
                #expect(try image.readLayout().warnings.isEmpty)
                let root = try image.planMounts(mountPartition: nil).root
                #expect(root.volume.number == 1 && root.fstype == "ext4" && root.target == "/")
                let session = try image.mount(at: mountPath, ownsMountPath: true)
                let status = try session.run("echo embedded > /root/x && cat /root/x && test -c /dev/null",
                                             stdout: out.output, stderr: .discard)
                #expect(status == .exited(0))
                #expect(mountinfo("/proc/thread-self/mountinfo", contains: mountPath + "/proc"))
                held = ledger.entries.map(\.resource)
            } catch {
                try? image.release()
                throw error
            }
            try image.release()
            try image.release()  // idempotent
            #expect(ledger.entries.isEmpty, "the released run still records \(ledger.entries)")
            #expect(!mountinfo("/proc/thread-self/mountinfo", contains: mountPath))
            return (out.text, held, ledger.runID)
        }
        #expect(output == "embedded\n")
        #expect(held.contains(.directory(path: mountPath)), "the owned mount path was not recorded: \(held)")
        try expectNothingLeft(of: disk, held: held, runID: runID, ledgerRoot: ledgerRoot)
        #expect(access(mountPath, F_OK) != 0, "the mount path it made is still there")

        // The write reached the image: read it back through a read-only attach.
        let readBack = try inPrivateMountNamespace { () throws -> String in
            let image = try MountedImage(attaching: AttachRequest(image: disk.path, format: .qcow2, readOnly: true),
                                         ledger: nil)
            defer { try? image.release() }
            try image.planMounts(mountPartition: 1)
            let out = OutputCollector()
            let status = try image.mount(at: mountPath).run("cat /root/x; touch /root/y 2>/dev/null || echo read-only",
                                                            stdout: out.output, stderr: .discard)
            #expect(status == .exited(0))
            try image.release()
            return out.text
        }
        #expect(readBack == "embedded\nread-only\n")
        #expect(try Command.run(try ExecutableLookup.resolve("qemu-img"), ["check", disk.path]).status == .exited(0))
    }

    @Test func aFailedPhaseStillReleasesEverything() throws {
        let disk = try BusyboxDisk()
        let ledgerRoot = disk.directory.file("runs")
        let (failure, held, runID) = try inPrivateMountNamespace { () throws -> (String, [LedgerResource], String) in
            let ledger = try RunLedger(root: ledgerRoot)
            defer { ledger.finish() }
            let image = try MountedImage(attaching: AttachRequest(image: disk.path, format: .qcow2), ledger: ledger)
            let held = ledger.entries.map(\.resource)
            var failure = ""
            do { try image.planMounts(mountPartition: 7) } catch { failure = "\(error)" }
            #expect(throws: (any Error).self) { try image.mount(at: disk.directory.file("mnt")) }
            try image.release()
            #expect(ledger.entries.isEmpty, "\(ledger.entries)")
            return (failure, held, ledger.runID)
        }
        #expect(failure.contains("mount_partition 7 does not exist"), "\(failure)")
        #expect(!held.isEmpty, "the attach recorded nothing")
        try expectNothingLeft(of: disk, held: held, runID: runID, ledgerRoot: ledgerRoot)
    }

    /// No mount of the run on the host, none of its loop devices bound, its processes gone, its record removed.
    private func expectNothingLeft(of disk: BusyboxDisk, held: [LedgerResource], runID: String, ledgerRoot: String,
                                   sourceLocation: SourceLocation = #_sourceLocation) throws {
        let runMounts = RunMounts(directory: disk.directory.path)
        #expect(runMounts.current(runIDs: [runID]).isEmpty, "\(runMounts.current(runIDs: [runID]))",
                sourceLocation: sourceLocation)
        for case .loop(let device, let backing, let offset, _) in held {
            let loop = LoopDeviceTable.Entry(device: device, backingFile: backing, offset: offset)
            #expect(LoopDeviceTable.waitUntilFree(loop, seconds: 2), "\(device) is still bound to \(backing)",
                    sourceLocation: sourceLocation)
        }
        for case .child(let command, let pid?, let start?) in held {
            #expect(!ProcFS.isAlive(pid, startTime: start), "\(command) (pid \(pid)) still runs",
                    sourceLocation: sourceLocation)
        }
        let processes = try Command.check("/bin/ps", ["-eo", "args"])
        #expect(!processes.contains(disk.path), "a process still serves \(disk.path)", sourceLocation: sourceLocation)
        #expect(access("\(ledgerRoot)/\(runID)", F_OK) != 0, "the run's record stayed", sourceLocation: sourceLocation)
    }
}
