import Glibc
import NBDCore

/// The run-private directory (`.qemu-chroot-work-RUNID`) for the overlay and the partial output, inside the
/// output's directory so the final rename stays on one filesystem. It is in the run ledger, so
/// `qemu-chroot cleanup` removes it after a kill -9.
enum WorkDirectory {
    /// Makes it in `parent`, sets `state.workDirectory`, and returns its ledger entry.
    static func make(in parent: String, _ state: BuildState) throws -> Int? {
        let work = "\(parent)/.qemu-chroot-work-\(state.runID)"
        let entry = try make(work, ledger: state.ledger)
        state.workDirectory = work
        return entry
    }

    /// Makes the run-private directory `path` (the work directory, the source cache's partial files),
    /// recorded in `ledger` first so a kill -9 between the two leaves nothing `cleanup` does not know.
    static func make(_ path: String, ledger: RunLedger?) throws -> Int? {
        let entry = try ledger?.intend(.workDirectory(path: path))
        try syscall("mkdir", path: path) { mkdir(path, 0o700) }
        return entry
    }

    /// Removes it with everything in it and releases its ledger entry; safe to call twice.
    static func remove(_ state: BuildState, entry: inout Int?) throws {
        if !state.workDirectory.isEmpty {
            try FileTree.removeAll(state.workDirectory)
            state.workDirectory = ""
        }
        if let done = entry { try state.ledger?.released(done) }
        entry = nil
    }
}
