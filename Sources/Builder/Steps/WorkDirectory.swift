import Glibc
import NBDCore

/// The run-private directory (`.qemu-chroot-work-RUNID`) for the overlay and the partial output, inside the
/// output's directory so the final rename stays on one filesystem. It is in the run ledger, so
/// `qemu-chroot cleanup` removes it after a kill -9.
enum WorkDirectory {
    /// Makes it in `parent`, sets `state.workDirectory`, and returns its ledger entry.
    static func make(in parent: String, _ state: BuildState) throws -> Int? {
        let work = "\(parent)/.qemu-chroot-work-\(state.runID)"
        let entry = try state.ledger?.intend(.workDirectory(path: work))
        try syscall("mkdir", path: work) { mkdir(work, 0o700) }
        state.workDirectory = work
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
