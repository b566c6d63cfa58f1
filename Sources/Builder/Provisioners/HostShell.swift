import NBDCore

/// Shell commands on the host (shell-local, pre/post mount commands): output streamed line by line into
/// the build log, and stopped (TERM, then KILL) when the build is cancelled. It reuses the chroot command
/// runner with "/" as the root, which changes nothing but gives the same process-group teardown.
enum HostShell {
    static func run(_ command: String, environment: [String: String] = [:], log: BuildLog,
                    cancellation: Cancellation) throws -> ExitStatus {
        var merged = ProcessEnvironment.current
        merged.merge(environment) { $1 }
        let out = LineStream { log.message($0) }
        let err = LineStream { log.message($0) }
        let status = try ChrootCommand(root: "/", isolated: false).run(command, environment: merged, stdout: .stream { out.feed($0[...]) },
                                                      stderr: .stream { err.feed($0[...]) }, cancellation: cancellation)
        out.flush()
        err.flush()
        if cancellation.isCancelled { throw CancelledError(cancellation.cancelReason) }
        return status
    }
}
