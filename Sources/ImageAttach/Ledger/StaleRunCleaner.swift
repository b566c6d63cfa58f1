import Glibc
import HostSystem
import ImageMount

/// Releases what a killed run left behind, as its record says, and nothing else: processes only if their
/// start time matches, and only in the run's own mount namespace (by its id, not its reusable inode); loop
/// devices only if still backed by the recorded file in the recorded configuration (disk sequence); FUSE mounts
/// and directories only at the recorded paths; nbd devices only if their backend identifier is the run's;
/// device-mapper devices only under the run-unique names recorded; a host binfmt_misc handler only when no live run
/// records it and it still has the recorded contents. A record of an earlier boot names no
/// process or device of this one.
public struct StaleRunCleaner {
    public var dryRun = false
    /// Receives one line per thing released (or, in a dry run, that would be).
    public var report: (String) -> Void
    /// The binfmt_misc a recorded host handler is in (tests put a recording one here); opened only for a record
    /// that has one.
    public var binfmtMisc: () throws -> BinfmtMiscInstance = { try HostBinfmtMisc.open() }

    public init(dryRun: Bool = false, report: @escaping (String) -> Void) {
        self.dryRun = dryRun
        self.report = report
    }

    /// Releases everything `run` recorded and removes its record; returns false (and keeps the record) if
    /// something could not be released.
    @discardableResult
    public func clean(_ run: StaleRun) -> Bool {
        let record = run.record
        // Two cleanups at once would race to kill and unmount the same things: the second one waits its turn.
        guard let lock = try? FileDescriptor.open(run.directory, O_RDONLY | O_DIRECTORY) else { return true }
        defer { try? lock.close() }
        if flock(lock.rawValue, LOCK_EX | LOCK_NB) != 0 {
            report("run \(record.runID) is being cleaned up by another process; skipped")
            return true
        }
        guard access("\(run.directory)/record.json", F_OK) == 0 else { return true }
        var failures = 0
        func step(_ what: String, _ body: () throws -> Void) {
            if dryRun { report("would release \(what)"); return }
            do {
                try body()
                report("released \(what)")
            } catch {
                failures += 1
                report("could not release \(what): \(error)")
            }
        }
        let resources = record.entries.reversed().map(\.resource)
        // Pids, namespaces and devices of another boot name nothing of the run: only its files are left.
        let held = record.isFromThisBoot ? resources : []
        if !record.isFromThisBoot {
            Log.debug("cleanup: run \(record.runID) was recorded in an earlier boot; only its files are removed")
        }
        // Before the recorded children go: on kernels without namespace ids one of them is the proof.
        let leftInNamespace = record.isFromThisBoot ? Self.processesLeftInNamespace(of: record) : []

        // Processes first: they hold the devices and mounts below.
        for case .child(let command, let pid?, let startTime?) in held
        where ProcFS.isAlive(pid, startTime: startTime) {
            step("process \(pid) (\(command)) of run \(record.runID)") { try Self.stop(pid, startTime: startTime) }
        }
        var left = leftInNamespace
        // A process can enter the namespace while the ones above go (a stopping daemon forks a helper, say):
        // look again until none is left. Only by the namespace's id: without it, the recorded children now
        // gone, nothing proves the inode is still the run's.
        for round in 0..<4 {
            for (pid, startTime) in left where ProcFS.isAlive(pid, startTime: startTime) {
                step("process \(pid) left in the mount namespace of run \(record.runID)") {
                    try Self.stop(pid, startTime: startTime)
                }
            }
            guard !dryRun, round < 3, record.isFromThisBoot, record.mountNamespaceID != nil else { break }
            left = Self.processesLeftInNamespace(of: record)
            if left.isEmpty { break }
        }
        // Once the run's emulated processes are gone; only when no live run still uses the handler.
        for case .binfmtHandler(let name, let architecture, let interpreter) in held {
            guard let handler = HostBinfmtLease.handler(name: name, architecture: architecture, interpreter: interpreter) else {
                failures += 1
                report("could not release binfmt_misc handler \(name): this build does not know the architecture \(architecture)")
                continue
            }
            if !HostBinfmtLease.releaseStale(handler, of: record, root: PathName.parent(run.directory), dryRun: dryRun, instance: binfmtMisc, report: report) {
                failures += 1
            }
        }
        let mounts = ProcFS.mountPoints()
        for case .mount(let path) in held where mounts.contains(path) {
            step("mount \(path)") { try Self.unmount(path) }
        }
        // Logical volumes before the loop and nbd devices their tables point into.
        for case .deviceMapper(let name) in held where DeviceMapper.exists(name) {
            step("device-mapper device \(name)") { try DeviceMapper.remove(name) }
        }
        for case .loop(let device, let backingFile, let offset, let sequence) in held {
            let ours = LoopDeviceTable.Entry(device: device, backingFile: backingFile, offset: offset)
            // The same file at the same offset on the same device may be another run's newer configuration.
            if let sequence, let current = LoopDeviceTable.diskSequence(of: device), current != sequence {
                Log.debug("cleanup: leaving \(device) alone: it was configured again (disk sequence \(current), the run's "
                    + "was \(sequence))")
                continue
            }
            // An autoclear device whose last user just went (the unmount above) frees itself a moment later.
            guard !LoopDeviceTable.waitUntilFree(ours, seconds: dryRun ? 0 : 0.5) else { continue }
            step("loop device \(device) (\(backingFile))") {
                try LoopDevice.clear(device)
                guard LoopDeviceTable.waitUntilFree(ours, seconds: 5) else {
                    throw AttachError("\(device) is still in use (mounted elsewhere?); it frees itself on its last close")
                }
            }
        }
        // Stopping the daemon above may have unmounted its export already.
        let mountsLeft = ProcFS.mountPoints()
        for case .fuseMount(let path) in held where mountsLeft.contains(path) {
            step("FUSE mount \(path)") { try Self.unmount(path) }
        }
        for case .nbd(let index, let identifier) in held
        where ProcFS.readText("/sys/block/nbd\(index)/backend") == identifier {
            step("nbd device /dev/nbd\(index) (\(identifier))") {
                guard try AttachBackendRegistry.all.contains(where: { try $0.releaseStale(.nbd(index: index,
                                                                        backendIdentifier: identifier)) }) else {
                    throw AttachError("this build has no nbd backend to disconnect it")
                }
            }
        }
        // Directories last, and only when everything above was released: one may still hold a mount.
        let mountsAtEnd = ProcFS.mountPoints()
        for case .directory(let path) in resources
        where failures == 0 && access(path, F_OK) == 0 && !mountsAtEnd.contains(path) {
            step("directory \(path)") { try Self.removeDirectory(path) }
        }
        // Work files never hold a mount of ours (removeAll refuses to cross one), so they go with the rest.
        for case .workDirectory(let path) in resources where failures == 0 && access(path, F_OK) == 0 {
            step("work directory \(path)") { try FileTree.removeAll(path) }
        }
        for case .createdOutputDirectory(let path, let identity) in resources where failures == 0 && access(path, F_OK) == 0 {
            // After the kill, the run's directory may have been removed and another made at its path.
            let notTheRuns = identity.map { $0.matches(path) ? nil : "it is not the directory the run made (\($0))" }
                ?? "the run was killed before it recorded which directory it made"
            if let notTheRuns {
                report("\(dryRun ? "would keep" : "kept") output directory \(path): \(notTheRuns)")
                continue
            }
            if !dryRun, (try? FileTree.entries(path))?.isEmpty == false {
                report("kept output directory \(path): it holds files the run did not leave as work files")
                continue
            }
            step("output directory \(path) (created by the run)") { try syscall("rmdir", path: path) { rmdir(path) } }
        }
        if dryRun { report("would remove the record of run \(record.runID)") }
        if dryRun || failures > 0 { return failures == 0 }
        unlink("\(run.directory)/record.json")
        unlink("\(run.directory)/record.json.tmp")
        if rmdir(run.directory) != 0 && errno != ENOENT {
            report("could not remove \(run.directory): \(Errno.message(errno))")
            return false
        }
        report("removed the record of run \(record.runID)")
        return true
    }

    /// SIGTERM (qemu-storage-daemon flushes and unmounts on it), sent again every 0.2 s because the daemon
    /// can absorb one without waking (`ChildProcess.signalRepeatedly`), then SIGKILL after 5 s.
    static func stop(_ pid: pid_t, startTime: UInt64) throws {
        for (signal, grace, interval) in [(SIGTERM, 5.0, 0.2), (SIGKILL, 5.0, 5.0)] {
            let deadline = Monotonic.now + grace
            while ProcFS.isAlive(pid, startTime: startTime) && Monotonic.now < deadline {
                if kill(pid, signal) != 0 && errno != ESRCH { throw SystemError("kill", path: "pid \(pid)", errno: errno) }
                // Another run's process, not our child: no exit status or pidfd of ours to wait on, only /proc.
                Poll.until(seconds: min(interval, max(0, deadline - Monotonic.now))) {
                    !ProcFS.isAlive(pid, startTime: startTime)
                }
            }
        }
        if ProcFS.isAlive(pid, startTime: startTime) { throw AttachError("process \(pid) survived SIGKILL") }
    }

    /// Processes (other than us) still inside the run's private mount namespace that started no earlier than
    /// the run's owner (anything older cannot be the run's), with their start times; recorded children are
    /// stopped as such. The kernel hands a dead namespace's inode on to the next new one, so the inode alone
    /// never decides: the namespace's id must be the recorded one, or, on kernels without ids, a process the
    /// run recorded (a qemu server, which never changes namespace) must still be inside it.
    static func processesLeftInNamespace(of record: RunRecord) -> [(pid_t, UInt64)] {
        // Never the namespace we or init live in: that would be every process on the host.
        guard let namespace = record.mountNamespace, namespace != ProcFS.mountNamespace(of: "self"),
              namespace != ProcFS.mountNamespace(of: "1") else { return [] }
        let children = record.entries.compactMap { entry -> (pid_t, UInt64)? in
            guard case .child(_, let pid?, let start?) = entry.resource else { return nil }
            return (pid, start)
        }
        let candidates = ProcFS.pids().compactMap { pid -> (pid_t, UInt64)? in
            guard pid != getpid(), !children.contains(where: { $0.0 == pid }),
                  ProcFS.mountNamespace(of: String(pid)) == namespace,
                  let start = ProcFS.startTime(of: pid), start >= record.ownerStartTime else { return nil }
            return (pid, start)
        }
        guard !candidates.isEmpty else { return [] }
        if let id = record.mountNamespaceID {
            return candidates.filter { pid, _ in
                let theirs = ProcFS.mountNamespaceID(of: String(pid))
                if theirs == id { return true }
                Log.debug("cleanup: leaving process \(pid) alone: its mount namespace has the inode run \(record.runID) "
                    + "recorded (\(namespace)) but the id \(theirs.map(String.init) ?? "(unreadable)"), not the run's \(id); "
                    + "the run's namespace is gone and the kernel reused its inode")
                return false
            }
        }
        let anchored = children.contains { pid, start in
            ProcFS.isAlive(pid, startTime: start) && ProcFS.mountNamespace(of: String(pid)) == namespace
        }
        if !anchored {
            Log.debug("cleanup: leaving processes \(candidates.map { String($0.0) }.joined(separator: ", ")) alone: their "
                + "mount namespace has the inode run \(record.runID) recorded (\(namespace)), but no process the run "
                + "recorded is still inside it and the record has no namespace id (Linux before 6.9), so the inode "
                + "may be a reused one")
            return []
        }
        return candidates
    }

    static func unmount(_ path: String) throws {
        if umount2(path, 0) == 0 { return }
        let code = errno
        guard code == EBUSY else { throw SystemError("umount2", path: path, errno: code) }
        try syscall("umount2 (lazy, busy)", path: path) { umount2(path, Int32(MNT_DETACH)) }
    }

    /// A FUSE export directory holds only the mountpoint file and the daemon's log; any other recorded
    /// directory (a mount path) must be empty.
    static func removeDirectory(_ path: String) throws {
        if path.split(separator: "/").last?.hasPrefix(QemuStorageDaemonExport.directoryPrefix) == true {
            unlink("\(path)/disk")
            unlink("\(path)/daemon.log")
        }
        try syscall("rmdir", path: path) { rmdir(path) }
    }
}
