import Glibc
import NBDCore
import Testing
import TestSupport

/// `qemu-chroot shell` end to end, run as a child process: the CLI enters its own mount namespace, which a
/// multi-threaded test runner cannot do for itself.
@Suite(.serialized) struct ChrootShellTests {
    static let requirements = BusyboxDisk.requirements ?? (QemuChrootBinary.path == nil ? "needs the built qemu-chroot binary" : nil)

    private func shell(_ disk: BusyboxDisk, _ arguments: [String]) throws -> CommandResult {
        try Command.run(QemuChrootBinary.path!, ["shell", disk.path, "--"] + arguments)
    }

    @Test(.enabled(if: requirements == nil, "\(requirements ?? "")"), .timeLimit(.minutes(1)))
    func writesPersistAndTheChrootSeesPseudoFilesystems() throws {
        let disk = try BusyboxDisk()
        let runMounts = RunMounts(directory: disk.directory.path)
        let first = try shell(disk, ["sh", "-c", "echo hi > /root/x && test -d /proc/1 && test -d /sys/kernel "
            + "&& test -c /dev/null && test -c /dev/pts/ptmx && echo ok"])
        #expect(first.status == .exited(0), "\(first.stderr)")
        #expect(first.stdout == "ok\n")
        let readBack = try shell(disk, ["cat", "/root/x"])
        #expect(readBack.stdout == "hi\n", "\(readBack.stderr)")
        #expect(try shell(disk, ["sh", "-c", "exit 7"]).status == .exited(7))
        #expect(try shell(disk, ["sh", "-c", "kill -9 $$"]).status == .exited(128 + SIGKILL))
        #expect(try Command.run(try ExecutableLookup.resolve("qemu-img"), ["check", disk.path]).status == .exited(0))
        #expect(runMounts.current().isEmpty, "\(runMounts.current())")
    }

    static let layouts: [(BusyboxDisk.Table, BusyboxDisk.Filesystem)] = [
        (.gpt, .xfs), (.gpt, .btrfs), (.mbrLogical, .ext4), (.none, .ext4),
    ]

    @Test(.enabled(if: requirements == nil && Host.has("mkfs.xfs") && Host.has("mkfs.btrfs"), "\(requirements ?? "needs xfsprogs and btrfs-progs")"),
          .timeLimit(.minutes(2)), arguments: layouts)
    func writesPersistOnEveryLayoutAndFilesystem(table: BusyboxDisk.Table, filesystem: BusyboxDisk.Filesystem) throws {
        let disk = try BusyboxDisk(table: table, filesystem: filesystem)
        let write = try shell(disk, ["sh", "-c", "echo \(filesystem.rawValue) > /root/x && test -c /dev/null"])
        #expect(write.status == .exited(0), "\(table) \(filesystem): \(write.stderr)")
        #expect(try shell(disk, ["cat", "/root/x"]).stdout == "\(filesystem.rawValue)\n")
        #expect(try Command.run(try ExecutableLookup.resolve("qemu-img"), ["check", disk.path]).status == .exited(0))
    }

    @Test(.enabled(if: requirements == nil && Host.has("strace"), "\(requirements ?? "needs strace")"), .timeLimit(.minutes(1)))
    func executesNoMountChrootOrDeviceTools() throws {
        let disk = try BusyboxDisk()
        let trace = disk.directory.file("trace")
        let result = try Command.run(try ExecutableLookup.resolve("strace"),
                                     ["-f", "-qq", "-e", "trace=execve", "-o", trace, QemuChrootBinary.path!,
                                      "shell", disk.path, "--", "true"])
        #expect(result.status == .exited(0), "\(result.stderr)")
        let executed = try read(trace).split(separator: "\n").compactMap { line -> String? in
            guard let start = line.firstRange(of: "execve(\"") else { return nil }
            let rest = line[start.upperBound...]
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }
        let names = Set(executed.map { String($0.split(separator: "/").last ?? "") })
        #expect(names.contains("qemu-chroot") && names.contains("sh"), "the trace saw \(names)")
        for forbidden in ["mount", "umount", "chroot", "losetup", "partx", "qemu-nbd", "kpartx", "fuser"] {
            #expect(!names.contains(forbidden), "qemu-chroot shell executed \(forbidden)")
        }
    }

    @Test(.enabled(if: requirements == nil, "\(requirements ?? "")"), .timeLimit(.minutes(1)))
    func killNineLeavesNoHostMount() throws {
        let disk = try BusyboxDisk()
        let runMounts = RunMounts(directory: disk.directory.path)
        let (child, runIDs) = try startSleepingShell(disk)
        defer { child.terminate(grace: 0) }
        #expect(runMounts.current(runIDs: runIDs).isEmpty, "a mount of the running shell is visible on the host")
        child.signal(SIGKILL)
        #expect(child.wait() == .signaled(SIGKILL))
        #expect(runMounts.current(runIDs: runIDs).isEmpty, "the killed shell left a mount on the host")
        // What remains (loop device, FUSE export, processes) is the ledger's to release.
        let stale = RunLedger.findStale().filter { $0.record.ownerPID == child.pid }
        #expect(stale.count == 1, "the killed run left no record")
        for run in stale { #expect(StaleRunCleaner(report: { _ in }).clean(run)) }
        #expect(runMounts.current(runIDs: runIDs).isEmpty)
        let loops = try Command.check(try ExecutableLookup.resolve("losetup"), ["-a"])
        #expect(!loops.contains(disk.directory.path), "a loop device of the killed run remains")
    }
}

extension ChrootShellTests {
    @Test(.enabled(if: requirements == nil, "\(requirements ?? "")"), .timeLimit(.minutes(1)))
    func sigtermCancelsTheCommandAndCleansUpEverything() throws {
        let disk = try BusyboxDisk()
        let runMounts = RunMounts(directory: disk.directory.path)
        let (child, runIDs) = try startSleepingShell(disk)
        defer { child.terminate(grace: 0) }
        let start = Monotonic.now
        child.signal(SIGTERM)
        #expect(child.wait() == .exited(128 + SIGTERM))
        #expect(Monotonic.now - start < 5, "cancelling took \(Monotonic.now - start) s")
        #expect(runMounts.current(runIDs: runIDs).isEmpty, "the cancelled run left a mount on the host")
        #expect(RunLedger.findAll().filter { runIDs.contains($0.runID) }.isEmpty, "the cancelled run left a record behind")
        let loops = try Command.check(try ExecutableLookup.resolve("losetup"), ["-a"])
        #expect(!loops.contains(disk.directory.path), "the cancelled run left a loop device")
        let daemons = try Command.check("/bin/ps", ["-eo", "args"])
        #expect(!daemons.contains(disk.path), "the cancelled run left qemu-storage-daemon running")
        #expect(try Command.run(try ExecutableLookup.resolve("qemu-img"), ["check", disk.path]).status == .exited(0))
    }
}

extension ChrootShellTests {
    /// Without a command: an interactive shell on a real pseudo-terminal (script(1)). ^C must reach the
    /// command in the chroot (it owns the terminal's foreground), not qemu-chroot.
    @Test(.enabled(if: requirements == nil && Host.has("script"), "\(requirements ?? "needs script (util-linux)")"),
          .timeLimit(.minutes(1)))
    func interactiveShellOwnsTheTerminal() throws {
        let disk = try BusyboxDisk()
        let typing = "sleep 1.5; printf 'sleep 20\\n'; sleep 1; printf '\\003'; sleep 0.5; "
            + "printf 'echo after-$((1+1)); exit 4\\n'; sleep 1"
        let start = Monotonic.now
        let result = try Command.run("/bin/sh", ["-c", "(\(typing)) | script -qec \"\(QemuChrootBinary.path!) shell \(disk.path)\" /dev/null"])
        #expect(result.status == .exited(4), "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("after-2"))
        #expect(Monotonic.now - start < 15, "^C did not interrupt the sleep")
    }
}

/// `qemu-chroot shell DISK -- sh -c 'sleep 30; true'`, returned once the chroot command runs, with the ID
/// of the run it recorded (a list, so a missing record still leaves the leak checks something to filter by).
private func startSleepingShell(_ disk: BusyboxDisk) throws -> (ChildProcess, runIDs: [String]) {
    var options = SpawnOptions()
    options.deathSignal = SIGKILL
    let child = try ChildProcess.spawn(QemuChrootBinary.path!, ["shell", disk.path, "--", "sh", "-c", "sleep 30; true"],
                                       options: options)
    #expect(waitForChrootCommand(of: child.pid), "the chroot command never started")
    let runIDs = RunLedger.findAll().filter { $0.ownerPID == child.pid }.map(\.runID)
    #expect(runIDs.count == 1, "the running shell has no record")
    return (child, runIDs)
}

/// Waits until `parent` runs the chroot command (busybox sh or sleep): a grandchild, under the command's
/// own init.
private func waitForChrootCommand(of parent: pid_t) -> Bool {
    func children(_ pid: String) -> [String] {
        ((try? Command.check("/bin/ps", ["-o", "pid=", "--ppid", pid])) ?? "").split(separator: "\n")
            .map { String($0).trimmingWhitespace() }
    }
    return Poll.until(seconds: 5) {
        children(String(parent)).flatMap(children).contains { pid in
            let comm = (try? read("/proc/\(pid)/comm"))?.trimmingWhitespace()
            return comm == "busybox" || comm == "sh" || comm == "sleep"
        }
    }
}
