import CNBD
import FoundationEssentials
import Glibc
@testable import HostSystem
@testable import ImageMount
import NBDCore
import TestSupport
import Testing

/// The host fallback before Linux 6.7 (docs/cross-arch.md), without the kernel: these tests never write this
/// host's binfmt_misc (other engineers and the host use it; this kernel takes the private path anyway). A
/// recording instance stands in for it; the ledger is a real one under a temporary root. The kernel side runs
/// in the VM (tests/vm/host-binfmt.sh).
@Suite struct HostBinfmtFallbackTests {
    static let arm64 = BinfmtHandler(architecture: .arm64, interpreter: "/usr/bin/qemu-aarch64-static")!

    /// What fs/binfmt_misc.c's entry_status prints for our arm64 registration (checked on Debian 12's 6.1).
    static let arm64Text = """
        enabled
        interpreter /usr/bin/qemu-aarch64-static
        flags: POCF
        offset 0
        magic 7f454c460201010000000000000000000200b700
        mask ffffffffffffff00fffffffffffffffffeffffff

        """

    @Test func theKernelsTextOfOurEntryIsWhatWeRegister() throws {
        let entry = try #require(BinfmtEntry(parsing: Self.arm64Text))
        #expect(entry == BinfmtEntry(registering: Self.arm64))
        #expect(entry.flags == ["P", "O", "C", "F"])
        #expect(entry.description.contains("flags POCF"))
        // Disabled, another interpreter, other flags or another mask: not ours.
        #expect(BinfmtEntry(parsing: Self.arm64Text.replacing("enabled", with: "disabled")) != entry)
        #expect(BinfmtEntry(parsing: Self.arm64Text.replacing("/usr/bin/", with: "/opt/")) != entry)
        #expect(BinfmtEntry(parsing: Self.arm64Text.replacing("POCF", with: "OCF")) != entry)
        #expect(BinfmtEntry(parsing: Self.arm64Text.replacing("fffeffffff", with: "ffffffffff")) != entry)
        // Debian's own handler for the same magic.
        let debian = """
            enabled
            interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
            flags: POCF
            offset 0
            magic 7f454c460201010000000000000000000200b700
            mask ffffffffffffff00fffffffffffffffffeffffff
            """
        #expect(BinfmtEntry(parsing: debian)?.interpreter == "/usr/libexec/qemu-binfmt/aarch64-binfmt-P")
        #expect(BinfmtEntry(parsing: debian) != entry)
        let byExtension = BinfmtEntry(parsing: "enabled\ninterpreter /usr/bin/wine\nflags: \nextension .exe\n")
        #expect(byExtension?.fileExtension == "exe")
        #expect(byExtension?.flags == [])
        #expect(BinfmtEntry(parsing: "enabled\n") == nil)
        #expect(BinfmtEntry(parsing: "") == nil)
        #expect(BinfmtEntry(parsing: "something else\ninterpreter /x\nmagic 00\n") == nil)
    }

    @Test func theFirstRunRegistersAndTheLastRemoves() throws {
        let root = try TemporaryDirectory("binfmt-ledger")
        let host = RecordingBinfmtMisc()
        let first = try RunLedger(root: root.path), second = try RunLedger(root: root.path)
        let leaseA = try HostBinfmtLease.acquire(Self.arm64, ledger: first, instance: host)
        let leaseB = try HostBinfmtLease.acquire(Self.arm64, ledger: second, instance: host)
        #expect(host.registered == [Self.arm64.name], "the second run shares the first one's handler")
        #expect(try recorded(first) == [.held])
        #expect(try recorded(second) == [.held])

        try leaseA.release()
        #expect(host.entries[Self.arm64.name] != nil, "the second run still uses it")
        #expect(try recorded(first) == [])
        try leaseA.release()
        try leaseB.release()
        #expect(host.entries.isEmpty)
        #expect(host.removed == [Self.arm64.name])
        #expect(try recorded(second) == [])
        first.finish()
        second.finish()
    }

    @Test func aHandlerOfAnotherNameIsNeverTouched() throws {
        let root = try TemporaryDirectory("binfmt-ledger")
        let host = RecordingBinfmtMisc()
        let debian = Self.arm64Text.replacing("/usr/bin/qemu-aarch64-static", with: "/usr/libexec/qemu-binfmt/aarch64-binfmt-P")
        let theirs = try #require(BinfmtEntry(parsing: debian))
        host.entries["qemu-aarch64"] = theirs
        let ledger = try RunLedger(root: root.path)
        let lease = try HostBinfmtLease.acquire(Self.arm64, ledger: ledger, instance: host)
        try lease.release()
        #expect(host.entries == ["qemu-aarch64": theirs])
        #expect(host.removed == [Self.arm64.name])
        ledger.finish()
    }

    /// An entry with our name that no record owns: adopted only when it is exactly ours (a killed run's),
    /// refused otherwise, and then left exactly as it was.
    @Test func anUnownedEntryWithOurNameIsAdoptedOnlyWithOurContents() throws {
        let root = try TemporaryDirectory("binfmt-ledger")
        let host = RecordingBinfmtMisc()
        host.entries[Self.arm64.name] = BinfmtEntry(registering: Self.arm64)
        let ledger = try RunLedger(root: root.path)
        let lease = try HostBinfmtLease.acquire(Self.arm64, ledger: ledger, instance: host)
        #expect(host.registered.isEmpty)
        try lease.release()
        #expect(host.entries.isEmpty)

        var foreign = BinfmtEntry(registering: Self.arm64)
        foreign.interpreter = "/opt/qemu/qemu-aarch64"
        host.entries[Self.arm64.name] = foreign
        let error = #expect(throws: EmulationError.self) { try HostBinfmtLease.acquire(Self.arm64, ledger: ledger, instance: host) }
        #expect(error?.description.contains("no qemu-chroot run records") == true, "\(String(describing: error))")
        #expect(error?.description.contains("echo -1 > /proc/sys/fs/binfmt_misc/qemu-chroot-aarch64") == true)
        #expect(host.entries[Self.arm64.name] == foreign)
        #expect(try recorded(ledger) == [], "a refused registration leaves no entry in the record")

        // Disabled by someone: not ours any more either.
        var disabled = BinfmtEntry(registering: Self.arm64)
        disabled.enabled = false
        host.entries[Self.arm64.name] = disabled
        #expect(throws: EmulationError.self) { try HostBinfmtLease.acquire(Self.arm64, ledger: ledger, instance: host) }
        #expect(host.entries[Self.arm64.name] == disabled)
        ledger.finish()
    }

    @Test func anotherLiveRunsEmulatorIsNotReplaced() throws {
        let root = try TemporaryDirectory("binfmt-ledger")
        let host = RecordingBinfmtMisc()
        let other = try #require(BinfmtHandler(architecture: .arm64, interpreter: "/opt/qemu/qemu-aarch64"))
        let first = try RunLedger(root: root.path), second = try RunLedger(root: root.path)
        let lease = try HostBinfmtLease.acquire(other, ledger: first, instance: host)
        let error = #expect(throws: EmulationError.self) { try HostBinfmtLease.acquire(Self.arm64, ledger: second, instance: host) }
        #expect(error?.description.contains("run \(first.runID)") == true, "\(String(describing: error))")
        #expect(host.entries[other.name] == BinfmtEntry(registering: other))
        try lease.release()
        #expect(host.entries.isEmpty)
        first.finish()
        second.finish()
    }

    @Test func aDisabledBinfmtMiscIsRefused() throws {
        let root = try TemporaryDirectory("binfmt-ledger")
        let host = RecordingBinfmtMisc()
        host.enabled = false
        let ledger = try RunLedger(root: root.path)
        let error = #expect(throws: EmulationError.self) { try HostBinfmtLease.acquire(Self.arm64, ledger: ledger, instance: host) }
        #expect(error?.description.contains("disabled") == true)
        #expect(host.registered.isEmpty)
        ledger.finish()
    }

    /// kill -9 leaves the record's entry: cleanup (and its dry run) removes the handler once no live run
    /// records it, and leaves it to a live one; a killed run's record does not keep a live run from removing it.
    @Test func cleanupRemovesAKilledRunsHandlerOnceNoLiveRunUsesIt() throws {
        let root = try TemporaryDirectory("binfmt-ledger")
        let host = RecordingBinfmtMisc()
        host.entries[Self.arm64.name] = BinfmtEntry(registering: Self.arm64)
        try writeDeadRecord("killed", under: root.path)
        var lines: [String] = []
        var cleaner = StaleRunCleaner(dryRun: true) { lines.append($0) }
        cleaner.binfmtMisc = { host }
        let stale = try #require(RunLedger.findStale(root: root.path).first)
        #expect(cleaner.clean(stale))
        #expect(lines == ["would remove binfmt_misc handler \(Self.arm64.name) (/usr/bin/qemu-aarch64-static) from recording",
                          "would remove the record of run killed"], "\(lines)")
        #expect(host.removed.isEmpty, "a dry run changes nothing")

        let live = try RunLedger(root: root.path)
        let lease = try HostBinfmtLease.acquire(Self.arm64, ledger: live, instance: host)
        #expect(host.registered.isEmpty, "the killed run's handler is taken over")
        cleaner.dryRun = false
        lines = []
        #expect(cleaner.clean(stale))
        #expect(lines == ["left binfmt_misc handler \(Self.arm64.name): run \(live.runID) still uses it",
                          "removed the record of run killed"], "\(lines)")
        #expect(host.entries[Self.arm64.name] != nil)
        try lease.release()
        #expect(host.entries.isEmpty)
        live.finish()

        host.entries[Self.arm64.name] = BinfmtEntry(registering: Self.arm64)
        try writeDeadRecord("killed-again", under: root.path)
        lines = []
        #expect(cleaner.clean(try #require(RunLedger.findStale(root: root.path).first)))
        #expect(lines == ["removed binfmt_misc handler \(Self.arm64.name) (/usr/bin/qemu-aarch64-static) from recording",
                          "removed the record of run killed-again"], "\(lines)")
        #expect(host.entries.isEmpty)
        #expect(RunLedger.findStale(root: root.path).isEmpty)
    }

    @Test func cleanupLeavesAChangedEntryAlone() throws {
        let root = try TemporaryDirectory("binfmt-ledger")
        let host = RecordingBinfmtMisc()
        var changed = BinfmtEntry(registering: Self.arm64)
        changed.flags = ["F"]
        host.entries[Self.arm64.name] = changed
        try writeDeadRecord("killed", under: root.path)
        var lines: [String] = []
        var cleaner = StaleRunCleaner { lines.append($0) }
        cleaner.binfmtMisc = { host }
        #expect(cleaner.clean(try #require(RunLedger.findStale(root: root.path).first)))
        #expect(lines.first?.hasPrefix("left binfmt_misc handler \(Self.arm64.name) alone") == true, "\(lines)")
        #expect(host.entries[Self.arm64.name] == changed)
    }

    @Test func theFallbackAppliesOnlyWhenTheKernelCannotMountAPrivateInstance() {
        let mount = SpawnError(executable: "/bin/true", stage: Int32(CNBD_SPAWN_BINFMT_MOUNT.rawValue), errno: EPERM)
        #expect(PrivateBinfmtProbe.kernelLacksPrivateInstance(mount) != nil)
        let noBinfmt = SpawnError(executable: "/bin/true", stage: Int32(CNBD_SPAWN_BINFMT_MOUNT.rawValue), errno: ENODEV)
        #expect(PrivateBinfmtProbe.kernelLacksPrivateInstance(noBinfmt) == nil)
        let userMap = SpawnError(executable: "/bin/true", stage: Int32(CNBD_SPAWN_USER_MAP.rawValue), errno: EPERM)
        #expect(PrivateBinfmtProbe.kernelLacksPrivateInstance(userMap) == nil)
        #expect(PrivateBinfmtProbe.kernelLacksPrivateInstance(EmulationError("x")) == nil)
        #expect(KernelRelease("6.1.0-28-amd64").map { $0 < KernelRelease(major: 6, minor: 7) } == true)
        #expect(KernelRelease("6.18.44-fc-v1300").map { $0 < KernelRelease(major: 6, minor: 7) } == false)
        #expect(KernelRelease("5.15.0") == KernelRelease(major: 5, minor: 15))
        #expect(KernelRelease("garbage") == nil)
    }

    @Test func theBuildSaysWhereTheHandlerIs() {
        let image = ImageArchitecture(architecture: .arm64, evidence: "/bin/sh", osName: nil)
        let plan = EmulationPlan.hostEmulated(image, Self.arm64, reason: "this kernel has no private binfmt_misc: Linux 6.1.0 < 6.7")
        #expect(plan.description.contains("registered with flags FPC in the host's binfmt_misc as qemu-chroot-aarch64 for this run "
            + "(this kernel has no private binfmt_misc: Linux 6.1.0 < 6.7); removed when the last run using it ends"))
        #expect(plan.privateHandler == nil, "commands must not register it again in a namespace of their own")
        #expect(plan.hostHandler == Self.arm64)
        #expect(EmulationPlan.emulated(image, Self.arm64).hostHandler == nil)
    }

    private func recorded(_ ledger: RunLedger) throws -> [LedgerEntry.State] {
        let text = try #require(ProcFS.readText(ledger.recordPath))
        let record = try JSONDecoder().decode(RunRecord.self, from: Data(text.utf8))
        return record.entries.filter {
            if case .binfmtHandler = $0.resource { return true }
            return false
        }.map(\.state)
    }

    /// The record a run killed while holding the arm64 handler leaves: its owner (a finished /bin/true) is gone.
    private func writeDeadRecord(_ runID: String, under root: String) throws {
        let child = try ChildProcess.spawn("/bin/true", [])
        let start = try #require(ProcFS.startTime(of: child.pid))
        child.wait()
        let resource = LedgerResource.binfmtHandler(name: Self.arm64.name, architecture: "arm64", interpreter: Self.arm64.interpreter)
        let record = RunRecord(runID: runID, ownerPID: child.pid, ownerStartTime: start, startedAt: 0, mountNamespace: nil,
                               entries: [LedgerEntry(id: 1, state: .held, resource: resource)], bootID: ProcFS.bootID)
        mkdir("\(root)/\(runID)", 0o700)
        let file = try FileDescriptor.open("\(root)/\(runID)/record.json", O_WRONLY | O_CREAT | O_TRUNC)
        try file.writeAll(Array(try JSONEncoder().encode(record)))
        try file.close()
    }
}

/// A binfmt_misc in memory with the kernel's rules that matter here: EEXIST for a taken name, -1 removes.
private final class RecordingBinfmtMisc: BinfmtMiscInstance {
    let location = "recording"
    var enabled = true
    var entries: [String: BinfmtEntry] = [:]
    var registered: [String] = []
    var removed: [String] = []

    func isEnabled() throws -> Bool { enabled }

    func entry(named name: String) throws -> BinfmtEntry? { entries[name] }

    func register(_ handler: BinfmtHandler) throws {
        guard entries[handler.name] == nil else { throw SystemError("write", path: "register", errno: EEXIST) }
        entries[handler.name] = BinfmtEntry(registering: handler)
        registered.append(handler.name)
    }

    func remove(named name: String) throws {
        guard entries.removeValue(forKey: name) != nil else { return }
        removed.append(name)
    }
}
