import Glibc
import HostSystem
import ImageLayout
import ImageMount

/// The host fallback's handler (Linux before 6.7: no binfmt_misc of a command's own), shared by the live runs
/// that use it. Each run records the handler in its ledger record; the first registers it, the last removes it,
/// and `cleanup` removes it for a killed run once no live run records it. The decisions are made holding an
/// exclusive flock(2) on the ledger's root directory, so two runs never both register or both count
/// themselves last.
///
/// Only an entry with exactly our contents (`BinfmtEntry(registering:)`) is shared or removed: an entry with our
/// name and other contents is refused, never changed; handlers under other names (a distribution's
/// `qemu-aarch64`) are never looked at. Ours is inserted ahead of them, so it decides while it exists.
public final class HostBinfmtLease {
    public let handler: BinfmtHandler
    private let ledger: RunLedger
    private let instance: BinfmtMiscInstance
    /// The ledger entry while the run holds the handler; nil once released.
    private var entryID: Int?

    private init(handler: BinfmtHandler, ledger: RunLedger, instance: BinfmtMiscInstance, entryID: Int) {
        (self.handler, self.ledger, self.instance, self.entryID) = (handler, ledger, instance, entryID)
    }

    /// Registers `handler` in the host's binfmt_misc (`instance`), or joins the live runs that did; adopts one
    /// with exactly these contents that a killed run left. The ledger records the intent before the
    /// registration, so a kill -9 in between still leaves `cleanup` a record.
    public static func acquire(_ handler: BinfmtHandler, ledger: RunLedger,
                               instance: BinfmtMiscInstance? = nil) throws -> HostBinfmtLease {
        let instance = try instance ?? HostBinfmtMisc.open()
        let resource = LedgerResource.binfmtHandler(name: handler.name, architecture: handler.architecture.rawValue,
                                                    interpreter: handler.interpreter)
        return try withLock(root: ledger.root) {
            let id = try ledger.intend(resource)
            do {
                guard try instance.isEnabled() else {
                    throw EmulationError("the host's binfmt_misc is disabled (its status file in \(instance.location) says so), so no "
                        + "handler runs: enable it (echo 1 > \(HostBinfmtMisc.mountPoint)/status) or run on Linux 6.7 or later")
                }
                let wanted = BinfmtEntry(registering: handler)
                let users = liveUsers(of: handler.name, root: ledger.root, excluding: ledger.runID)
                if let existing = try instance.entry(named: handler.name) {
                    guard existing == wanted else {
                        throw conflict(handler, existing: existing, users: users, location: instance.location)
                    }
                    if users.isEmpty {
                        Log.debug("binfmt_misc: \(handler.name) is registered with this run's contents and no live run records it: "
                            + "a killed run left it; this run takes it over")
                    } else {
                        Log.debug("binfmt_misc: \(handler.name) is shared with run \(users.map(\.runID).joined(separator: ", "))")
                    }
                } else {
                    do { try instance.register(handler) } catch let error as SystemError where error.errno == EEXIST {
                        throw EmulationError("cannot register \(handler.name) in \(instance.location): something else registered that "
                            + "name at the same moment (EEXIST); try again")
                    }
                    Log.debug("binfmt_misc: registered \(handler.registration) in \(instance.location)")
                }
                try ledger.held(id, resource)
            } catch {
                try? ledger.released(id)
                throw error
            }
            return HostBinfmtLease(handler: handler, ledger: ledger, instance: instance, entryID: id)
        }
    }

    /// Leaves the handler to the other live runs that record it, or removes it when there are none (and it is
    /// still exactly what was registered). Idempotent.
    public func release() throws {
        guard let id = entryID else { return }
        try Self.withLock(root: ledger.root) {
            let users = Self.liveUsers(of: handler.name, root: ledger.root, excluding: ledger.runID)
            if users.isEmpty {
                switch try Self.removeIfUnchanged(handler, from: instance, dryRun: false) {
                case .removed: Log.debug("binfmt_misc: removed \(handler.name) from \(instance.location)")
                case .changed(let existing):
                    Log.warning("left the binfmt_misc handler \(handler.name) in \(instance.location) alone: it is no longer what "
                        + "this run registered (\(existing))")
                case .absent, .wouldRemove: break
                }
            } else {
                Log.debug("binfmt_misc: leaving \(handler.name) to run \(users.map(\.runID).joined(separator: ", "))")
            }
            try ledger.released(id)
        }
        entryID = nil
    }

    /// `cleanup`'s part for a killed run that recorded `handler`: what to do, said through `report` and done
    /// unless `dryRun`. Returns false when the removal failed.
    public static func releaseStale(_ handler: BinfmtHandler, of record: RunRecord, root: String, dryRun: Bool,
                                    instance: () throws -> BinfmtMiscInstance, report: (String) -> Void) -> Bool {
        do {
            return try withLock(root: root) {
                let users = liveUsers(of: handler.name, root: root, excluding: record.runID)
                if !users.isEmpty {
                    report("left binfmt_misc handler \(handler.name): run \(users.map(\.runID).joined(separator: ", ")) still uses it")
                    return true
                }
                let binfmt = try instance()
                switch try removeIfUnchanged(handler, from: binfmt, dryRun: dryRun) {
                case .absent: break
                case .changed(let existing):
                    report("left binfmt_misc handler \(handler.name) alone: it is not what run \(record.runID) registered (\(existing))")
                case .wouldRemove:
                    report("would remove binfmt_misc handler \(handler.name) (\(handler.interpreter)) from \(binfmt.location)")
                case .removed:
                    report("removed binfmt_misc handler \(handler.name) (\(handler.interpreter)) from \(binfmt.location)")
                }
                return true
            }
        } catch {
            report("could not remove binfmt_misc handler \(handler.name): \(error)")
            return false
        }
    }

    /// The handler a record's `.binfmtHandler` entry names; nil for an architecture this build does not know.
    public static func handler(name: String, architecture: String, interpreter: String) -> BinfmtHandler? {
        Architecture(rawValue: architecture).flatMap { BinfmtHandler(architecture: $0, interpreter: interpreter, name: name) }
    }

    private enum Removal { case absent, changed(BinfmtEntry), wouldRemove, removed }

    /// Removes `handler`'s entry if it still has exactly the registered contents; one with our name and other
    /// contents is not ours to remove.
    private static func removeIfUnchanged(_ handler: BinfmtHandler, from instance: BinfmtMiscInstance, dryRun: Bool) throws -> Removal {
        guard let existing = try instance.entry(named: handler.name) else { return .absent }
        guard existing == BinfmtEntry(registering: handler) else { return .changed(existing) }
        if dryRun { return .wouldRemove }
        try instance.remove(named: handler.name)
        return .removed
    }

    private static func conflict(_ handler: BinfmtHandler, existing: BinfmtEntry, users: [RunRecord], location: String) -> Error {
        let wanted = BinfmtEntry(registering: handler)
        if let user = users.first {
            return EmulationError("run \(user.runID) (pid \(user.ownerPID)) uses the binfmt_misc handler \(handler.name) in \(location) "
                + "with \(existing); this run needs \(wanted): wait for that run to end, or give both the same qemu_binary")
        }
        return EmulationError("\(location) has a handler named \(handler.name) that no qemu-chroot run records and that is not the one "
            + "this run would register (it has \(existing); this run's would have \(wanted)): qemu-chroot never changes a handler it "
            + "did not register; if it is a leftover, remove it (echo -1 > \(HostBinfmtMisc.mountPoint)/\(handler.name)) and run again")
    }

    /// The records of live runs (this boot, owner running) other than `runID` that hold or intend `name`.
    static func liveUsers(of name: String, root: String, excluding runID: String) -> [RunRecord] {
        RunLedger.findAll(root: root).filter { record in
            guard record.runID != runID, record.isFromThisBoot,
                  ProcFS.isAlive(record.ownerPID, startTime: record.ownerStartTime) else { return false }
            return record.entries.contains {
                if case .binfmtHandler(name, _, _) = $0.resource { return true }
                return false
            }
        }
    }

    /// Runs `body` holding an exclusive flock(2) on the ledger's root directory (the lock goes with the
    /// descriptor, also when the process is killed).
    static func withLock<T>(root: String, _ body: () throws -> T) throws -> T {
        try RunLedger.makeDirectories(root)
        let directory = try FileDescriptor.open(root, O_RDONLY | O_DIRECTORY)
        defer { try? directory.close() }
        try syscall("flock", path: root) { flock(directory.rawValue, LOCK_EX) }
        return try body()
    }
}
