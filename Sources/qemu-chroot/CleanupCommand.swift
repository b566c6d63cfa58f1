import ArgumentParser
import Glibc
import NBDCore

/// Releases what killed runs left behind, as their records under /run/qemu-chroot/runs say.
struct CleanupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Release the processes, loop devices, FUSE exports, nbd devices, mounts and host binfmt_misc handlers of killed runs.",
        discussion: """
            Every run records what it holds under \(RunLedger.defaultRoot)/<run-id>/. A run whose process is \
            gone is stale: cleanup releases exactly what its record names (processes only if their start time \
            matches, processes left in the run's mount namespace only if the namespace's id is the recorded one, \
            loop devices only if still backed by the recorded file in the recorded configuration, nbd devices \
            only if their backend identifier is the run's, a host binfmt_misc handler only once no live run \
            records it) and removes the record. Nothing else is touched; \
            --debug says what was left alone and why.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "List what would be released; change nothing.")
    var dryRun = false

    @Option(name: .long, help: ArgumentHelp("Directory of run records.", visibility: .hidden))
    var ledgerRoot = RunLedger.defaultRoot

    func run() throws {
        global.apply()
        if access(ledgerRoot, R_OK | X_OK) != 0 && errno != ENOENT {
            throw SystemError("open", path: ledgerRoot, errno: errno, hint: "run records belong to root; run cleanup as root")
        }
        let stale = RunLedger.findStale(root: ledgerRoot)
        if stale.isEmpty {
            print("nothing to clean up: no records of killed runs under \(ledgerRoot)")
            return
        }
        let cleaner = StaleRunCleaner(dryRun: dryRun) { print($0) }
        var failed = 0
        for run in stale where !cleaner.clean(run) { failed += 1 }
        if failed > 0 {
            Log.error("\(failed) run(s) still hold something (see above); their records stay for another try")
            throw ExitCode.failure
        }
    }
}
