import FoundationEssentials
import Glibc
import HostSystem
import ImageLayout
import Synchronization

/// The on-disk record of what a run holds, so that `qemu-chroot cleanup` can release what a killed run
/// left behind. Each resource is written as intended BEFORE it is acquired and as held after, and removed
/// when released; `finish()` removes the record of a run that released everything.
public final class RunLedger: Sendable {
    public static let defaultRoot = "/run/qemu-chroot/runs"

    public let runID: String
    /// The directory of every run's record (`defaultRoot` unless a test gives its own).
    public let root: String
    public let directory: String
    public var recordPath: String { "\(directory)/record.json" }
    /// The identifier kernel nbd devices of this run carry (/sys/block/nbdN/backend).
    public var backendIdentifier: String { "qemu-chroot:\(runID)" }

    private struct State {
        var record: RunRecord
        var nextID = 1
        var finished = false
    }

    private let state: Mutex<State>

    /// Starts the record of a new run of this process.
    public init(root: String = RunLedger.defaultRoot) throws {
        runID = Self.newRunID()
        self.root = root
        directory = "\(root)/\(runID)"
        let pid = getpid()
        // Without our start time a cleanup could not tell us from a dead owner.
        guard let startTime = ProcFS.startTime(of: pid) else {
            throw AttachError("cannot read /proc/\(pid)/stat, which run records need to tell a live run from a killed one")
        }
        state = Mutex(State(record: RunRecord(
            runID: runID, ownerPID: pid, ownerStartTime: startTime,
            startedAt: time(nil), mountNamespace: nil, entries: [], bootID: ProcFS.bootID)))
        try Self.makeDirectories(directory)
        try state.withLock { try save(&$0) }
    }

    /// Records the intent to acquire `resource`; returns the entry's id for `held`/`released`.
    @discardableResult
    public func intend(_ resource: LedgerResource) throws -> Int {
        try state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.record.entries.append(LedgerEntry(id: id, state: .intended, resource: resource))
            try save(&state)
            return id
        }
    }

    /// Records that the resource of entry `id` is now held, with its final details (device, pid).
    public func held(_ id: Int, _ resource: LedgerResource) throws {
        try update(id) { $0 = LedgerEntry(id: id, state: .held, resource: resource) }
    }

    /// Changes the details of an entry still being acquired (a loop device retried with a new index).
    public func revise(_ id: Int, _ resource: LedgerResource) throws {
        try update(id) { $0.resource = resource }
    }

    /// Forgets entry `id`: its resource was released.
    public func released(_ id: Int) throws {
        try state.withLock { state in
            state.record.entries.removeAll { $0.id == id }
            try save(&state)
        }
    }

    /// Removes the record: the run released everything. Idempotent.
    public func finish() {
        state.withLock { state in
            guard !state.finished else { return }
            state.finished = true
            if !state.record.entries.isEmpty {
                Log.warning("run \(runID) ends holding \(state.record.entries.map(\.resource.description).joined(separator: ", ")); "
                    + "its record stays for `qemu-chroot cleanup`")
                return
            }
            unlink(recordPath)
            unlink("\(recordPath).tmp")
            rmdir(directory)
        }
    }

    public var entries: [LedgerEntry] { state.withLock { $0.record.entries } }

    private func update(_ id: Int, _ change: (inout LedgerEntry) -> Void) throws {
        try state.withLock { state in
            guard let index = state.record.entries.firstIndex(where: { $0.id == id }) else { return }
            change(&state.record.entries[index])
            try save(&state)
        }
    }

    /// Writes the record atomically (temporary file + rename), so a reader never sees half of it.
    /// Called with the lock held.
    private func save(_ state: inout State) throws {
        guard !state.finished else { return }
        // Once seen, the run's namespace stays recorded even if a later save comes from a thread outside it.
        if let namespace = Self.privateMountNamespace() {
            state.record.mountNamespace = namespace
            state.record.mountNamespaceID = ProcFS.mountNamespaceID(of: "thread-self")
        }
        let data = try JSONEncoder().encode(state.record)
        let temporary = "\(recordPath).tmp"
        let file = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        try data.withUnsafeBytes { try file.writeAll($0) }
        try file.close()
        try syscall("rename", path: temporary) { rename(temporary, recordPath) }
    }

    /// The calling thread's mount namespace when it is the run's own: it differs from the namespace of the
    /// process that started us (or of init, where the parent's cannot be read). The host's namespace is never
    /// recorded, because cleanup kills every process left in a recorded namespace; when neither can be read
    /// (some sandboxes deny /proc/1/ns even to root) nothing is recorded.
    static func privateMountNamespace() -> UInt64? {
        guard let mine = ProcFS.mountNamespace(of: "thread-self"),
              let outside = ProcFS.mountNamespace(of: String(getppid())) ?? ProcFS.mountNamespace(of: "1"),
              mine != outside else { return nil }
        return mine
    }

    static func newRunID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = UInt64.random(in: 0...UInt64.max, using: &generator)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func makeDirectories(_ path: String) throws {
        do { try FileTree.makeDirectories(path, mode: 0o700) } catch let error as SystemError {
            throw error.withHint("run records live under \(RunLedger.defaultRoot); run as root")
        }
    }
}
