import Glibc
import NBDCore

/// SIGINT, SIGTERM and SIGHUP become `cancellation.cancel(...)`, so a signal leads to the same full
/// cleanup (unmount, flush, detach) as a finished command. The signals are blocked in every thread (the
/// mask is inherited, so this must run before other threads start) and received by one thread with
/// sigwait; children start with an empty mask (cnbd_spawn), so they still get the terminal's signals.
enum SignalCancellation {
    static let signals = [SIGINT, SIGTERM, SIGHUP]

    static func install(_ cancellation: Cancellation) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        // Taking the terminal back from a foreground chroot command must not stop us.
        signal(SIGTTOU, SIG_IGN)
        do {
            try HostThread.startDetached(name: "signal waiter") { [set] in wait(for: set, cancellation) }
        } catch {
            Log.warning("no thread to receive signals (\(error)); SIGINT, SIGTERM and SIGHUP will not cancel cleanly")
        }
    }

    private static func wait(for signals: sigset_t, _ cancellation: Cancellation) -> Never {
        var set = signals
        while true {
            var received: Int32 = 0
            guard sigwait(&set, &received) == 0 else { continue }
            let name = strsignal(received).map { String(cString: $0) } ?? "signal \(received)"
            Log.info("\(name): cancelling and cleaning up")
            cancellation.cancel("interrupted by \(name)")
        }
    }
}
