import FoundationEssentials
import Glibc
import NBDCore
import TestSupport
import Testing

private let unshareSkip = Host.missing(programs: ["unshare", "sleep"], root: true)

@Suite struct AttachLedgerTests {
    @Test func recordsIntentThenHoldingThenRelease() throws {
        let root = try TemporaryDirectory("ledger")
        let ledger = try RunLedger(root: root.path)
        #expect(try readRecord(ledger).ownerPID == getpid())
        #expect(try readRecord(ledger).ownerStartTime == ProcFS.startTime(of: getpid()))

        let id = try ledger.intend(.loop(device: "/dev/loop7", backingFile: "/img", offset: 512))
        #expect(try readRecord(ledger).entries == [
            LedgerEntry(id: id, state: .intended, resource: .loop(device: "/dev/loop7", backingFile: "/img", offset: 512))])
        try ledger.revise(id, .loop(device: "/dev/loop8", backingFile: "/img", offset: 512))
        try ledger.held(id, .loop(device: "/dev/loop8", backingFile: "/img", offset: 512))
        #expect(try readRecord(ledger).entries.map(\.state) == [.held])
        #expect(try readRecord(ledger).entries.first?.resource == .loop(device: "/dev/loop8", backingFile: "/img", offset: 512))
        #expect(RunLedger.findStale(root: root.path).isEmpty, "our own run is alive")

        try ledger.released(id)
        #expect(try readRecord(ledger).entries.isEmpty)
        ledger.finish()
        ledger.finish()
        #expect(access(ledger.directory, F_OK) != 0)
    }

    @Test func runHoldingSomethingKeepsItsRecord() throws {
        let root = try TemporaryDirectory("ledger")
        let ledger = try RunLedger(root: root.path)
        try ledger.intend(.fuseMount(path: "/somewhere/disk"))
        ledger.finish()
        #expect(access(ledger.recordPath, F_OK) == 0)
    }

    @Test func recordOfADeadOwnerIsStaleAndAReusedPidDoesNotCount() throws {
        let root = try TemporaryDirectory("ledger")
        let child = try ChildProcess.spawn("/bin/true", [])
        let start = try #require(ProcFS.startTime(of: child.pid))
        child.wait()
        try write(RunRecord(runID: "dead", ownerPID: child.pid, ownerStartTime: start, startedAt: 0,
                            mountNamespace: nil, entries: []), under: root.path)
        // Our own pid with another start time: the pid was reused by us, the owner is gone.
        try write(RunRecord(runID: "reused", ownerPID: getpid(), ownerStartTime: 1, startedAt: 1,
                            mountNamespace: nil, entries: []), under: root.path)
        try write(RunRecord(runID: "alive", ownerPID: getpid(), ownerStartTime: ProcFS.startTime(of: getpid()) ?? 0,
                            startedAt: 2, mountNamespace: nil, entries: []), under: root.path)
        #expect(RunLedger.findStale(root: root.path).map(\.record.runID) == ["dead", "reused"])
    }

    @Test func unreadableRecordIsLeftAlone() throws {
        let root = try TemporaryDirectory("ledger")
        mkdir(root.file("garbage"), 0o700)
        try Command.check("sh", ["-c", "echo '{not json' > \(root.file("garbage"))/record.json"])
        #expect(RunLedger.findStale(root: root.path).isEmpty)
        #expect(access(root.file("garbage/record.json"), F_OK) == 0)
    }

    @Test func hostMountNamespaceIsNeverACleanupTarget() throws {
        let root = try TemporaryDirectory("ledger")
        let host = try #require(ProcFS.mountNamespace(of: "self"))
        let record = RunRecord(runID: "hostns", ownerPID: 999_999_999, ownerStartTime: 1, startedAt: 0,
                               mountNamespace: host, entries: [])
        try write(record, under: root.path)
        var lines: [String] = []
        let run = try #require(RunLedger.findStale(root: root.path).first)
        #expect(StaleRunCleaner(dryRun: true) { lines.append($0) }.clean(run))
        // Only the record itself: no process of the host namespace is listed.
        #expect(lines == ["would remove the record of run hostns"], "\(lines)")
    }

    @Test func cleanupNeverEmptiesADirectoryThatIsNotAnExport() throws {
        let root = try TemporaryDirectory("ledger")
        let mountPath = root.file("mnt")
        mkdir(mountPath, 0o755)
        try Command.check("sh", ["-c", "echo keep > \(mountPath)/disk"])
        let record = RunRecord(runID: "notexport", ownerPID: 999_999_999, ownerStartTime: 1, startedAt: 0,
                               mountNamespace: nil, entries: [LedgerEntry(id: 1, state: .held,
                                                                          resource: .directory(path: mountPath))])
        try write(record, under: root.path)
        var lines: [String] = []
        let run = try #require(RunLedger.findStale(root: root.path).first)
        #expect(!StaleRunCleaner { lines.append($0) }.clean(run))
        #expect(ProcFS.readText("\(mountPath)/disk") == "keep")
        #expect(lines.first?.hasPrefix("could not release directory \(mountPath): rmdir") == true, "\(lines)")
        #expect(access(root.file("notexport/record.json"), F_OK) == 0, "the record stays for another try")
    }

    @Test func aRunBeingCleanedElsewhereIsSkipped() throws {
        let root = try TemporaryDirectory("ledger")
        try write(RunRecord(runID: "busy", ownerPID: 999_999_999, ownerStartTime: 1, startedAt: 0,
                            mountNamespace: nil, entries: []), under: root.path)
        let run = try #require(RunLedger.findStale(root: root.path).first)
        let other = try FileDescriptor.open(run.directory, O_RDONLY | O_DIRECTORY)
        #expect(flock(other.rawValue, LOCK_EX) == 0)
        var lines: [String] = []
        #expect(StaleRunCleaner { lines.append($0) }.clean(run))
        #expect(lines == ["run busy is being cleaned up by another process; skipped"])
        try other.close()
        lines = []
        #expect(StaleRunCleaner { lines.append($0) }.clean(run))
        #expect(lines == ["removed the record of run busy"])
    }

    /// Issue 11: the kernel hands a dead namespace's inode on to the next new one. A stale record naming the
    /// inode of a live, unrelated namespace (a process of ours in its own `unshare -m`) must not make cleanup
    /// touch that process, whether the record has the namespace id (Linux 6.9+) or not.
    @Test(.enabled(if: unshareSkip == nil, "reused namespace inode: \(unshareSkip ?? "")"), .timeLimit(.minutes(1)))
    func aReusedNamespaceInodeIsNotTheRuns() throws {
        let root = try TemporaryDirectory("ledger")
        // The run's namespace, as its record knows it; it dies with its only process.
        let gone = try ProcessInOwnMountNamespace()
        let goneID = ProcFS.mountNamespaceID(of: String(gone.child.pid))
        gone.child.terminate(grace: 1)
        let live = try ProcessInOwnMountNamespace()
        defer { live.child.terminate(grace: 1) }
        let start = try #require(ProcFS.startTime(of: live.child.pid))
        try write(RunRecord(runID: "withoutid", ownerPID: 999_999_999, ownerStartTime: 1, startedAt: 0,
                            mountNamespace: live.namespace, entries: [], bootID: ProcFS.bootID), under: root.path)
        if let goneID {
            #expect(goneID != ProcFS.mountNamespaceID(of: String(live.child.pid)))
            try write(RunRecord(runID: "withid", ownerPID: 999_999_999, ownerStartTime: 1, startedAt: 1,
                                mountNamespace: live.namespace, entries: [], mountNamespaceID: goneID,
                                bootID: ProcFS.bootID), under: root.path)
        }
        let stale = RunLedger.findStale(root: root.path)
        #expect(stale.count == (goneID == nil ? 1 : 2))
        for run in stale {
            var lines: [String] = []
            #expect(StaleRunCleaner(dryRun: true) { lines.append($0) }.clean(run))
            #expect(lines == ["would remove the record of run \(run.record.runID)"], "\(lines)")
            lines = []
            #expect(StaleRunCleaner { lines.append($0) }.clean(run))
            #expect(lines == ["removed the record of run \(run.record.runID)"], "\(lines)")
            #expect(ProcFS.isAlive(live.child.pid, startTime: start), "run \(run.record.runID)")
        }
    }

    /// Without a namespace id (Linux before 6.9, or an older record) the inode counts only while a process the
    /// run recorded, with its start time, is still inside: then what else is left there is the run's too.
    @Test(.enabled(if: unshareSkip == nil, "namespace proven by a recorded process: \(unshareSkip ?? "")"),
          .timeLimit(.minutes(1)))
    func withoutANamespaceIdARecordedProcessInsideProvesIt() throws {
        let root = try TemporaryDirectory("ledger")
        let recorded = try ProcessInOwnMountNamespace(["sh", "-c", "sleep 60 & exec sleep 60"])
        defer { recorded.child.terminate(grace: 1) }
        let start = try #require(ProcFS.startTime(of: recorded.child.pid))
        var others: [pid_t] = []
        _ = Poll.until(seconds: 10) {
            others = ProcFS.pids().filter { $0 != recorded.child.pid && ProcFS.mountNamespace(of: String($0)) == recorded.namespace }
            return !others.isEmpty
        }
        let left = try #require(others.first, "the background sleep")
        let leftStart = try #require(ProcFS.startTime(of: left))
        defer { if ProcFS.isAlive(left, startTime: leftStart) { kill(left, SIGKILL) } }
        try write(RunRecord(runID: "anchored", ownerPID: 999_999_999, ownerStartTime: 1, startedAt: 0,
                            mountNamespace: recorded.namespace, entries: [
                                LedgerEntry(id: 1, state: .held, resource: .child(command: "sleep", pid: recorded.child.pid,
                                                                                 startTime: start))],
                            bootID: ProcFS.bootID), under: root.path)
        let run = try #require(RunLedger.findStale(root: root.path).first)
        var lines: [String] = []
        #expect(StaleRunCleaner(dryRun: true) { lines.append($0) }.clean(run))
        #expect(lines == ["would release process \(recorded.child.pid) (sleep) of run anchored",
                          "would release process \(left) left in the mount namespace of run anchored",
                          "would remove the record of run anchored"], "\(lines)")
        lines = []
        #expect(StaleRunCleaner { lines.append($0) }.clean(run), "\(lines)")
        #expect(!ProcFS.isAlive(recorded.child.pid, startTime: start))
        #expect(!ProcFS.isAlive(left, startTime: leftStart))
        #expect(lines.last == "removed the record of run anchored")
    }

    /// A record written in another boot names no process: even one whose pid and start time match ours.
    @Test func aRecordOfAnEarlierBootNamesNoProcess() throws {
        let root = try TemporaryDirectory("ledger")
        let start = try #require(ProcFS.startTime(of: getpid()))
        try write(RunRecord(runID: "oldboot", ownerPID: getpid(), ownerStartTime: start, startedAt: 0,
                            mountNamespace: nil, entries: [
                                LedgerEntry(id: 1, state: .held, resource: .child(command: "sleep", pid: getpid(), startTime: start))],
                            bootID: "00000000-0000-0000-0000-000000000000"), under: root.path)
        let run = try #require(RunLedger.findStale(root: root.path).first, "the owner of another boot is gone")
        var lines: [String] = []
        #expect(StaleRunCleaner(dryRun: true) { lines.append($0) }.clean(run))
        #expect(lines == ["would remove the record of run oldboot"], "\(lines)")
    }

    /// Records written before boot ids, namespace ids and disk sequences were recorded still read (and count
    /// as this boot's), so an upgrade never leaves a killed run's record unreadable.
    @Test func aRecordWithoutTheNewerFieldsStillReads() throws {
        let text = #"{"runID":"old","ownerPID":1,"ownerStartTime":1,"startedAt":0,"mountNamespace":5,"entries":["#
            + #"{"id":1,"state":"held","resource":{"loop":{"device":"/dev/loop3","backingFile":"/img","offset":0}}}]}"#
        let record = try JSONDecoder().decode(RunRecord.self, from: Data(text.utf8))
        #expect(record.bootID == nil && record.mountNamespaceID == nil && record.isFromThisBoot)
        #expect(record.entries.first?.resource == .loop(device: "/dev/loop3", backingFile: "/img", offset: 0, diskSequence: nil))
    }

    private func readRecord(_ ledger: RunLedger) throws -> RunRecord {
        let text = try #require(ProcFS.readText(ledger.recordPath))
        return try JSONDecoder().decode(RunRecord.self, from: Data(text.utf8))
    }

    private func write(_ record: RunRecord, under root: String) throws {
        let directory = "\(root)/\(record.runID)"
        mkdir(directory, 0o700)
        let file = try FileDescriptor.open("\(directory)/record.json", O_WRONLY | O_CREAT | O_TRUNC)
        try file.writeAll(Array(try JSONEncoder().encode(record)))
        try file.close()
    }
}

/// `unshare -m sleep 60` (or another command), started by the test: a live process in a mount namespace of its own.
private struct ProcessInOwnMountNamespace {
    let child: ChildProcess
    let namespace: UInt64

    init(_ command: [String] = ["sleep", "60"]) throws {
        var options = SpawnOptions()
        options.deathSignal = SIGKILL
        let process = try ChildProcess.spawn("unshare", ["-m"] + command, options: options)
        let host = ProcFS.mountNamespace(of: "self")
        var seen: UInt64?
        // unshare(1) leaves our namespace before it execs sleep.
        _ = Poll.until(seconds: 10) {
            seen = ProcFS.mountNamespace(of: String(process.pid))
            return seen != nil && seen != host
        }
        guard let seen, seen != host else {
            process.terminate(grace: 1)
            throw AttachError("unshare -m did not enter a mount namespace of its own")
        }
        child = process
        namespace = seen
    }
}
