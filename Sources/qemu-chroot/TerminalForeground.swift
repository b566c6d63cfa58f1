import Glibc
import NBDCore

/// Gives the terminal to a chroot command's process group and takes it back. The command runs in its own
/// group (so a cancel can kill everything it started); without this, reading the terminal from a
/// background group would stop it with SIGTTIN, and ^C would reach us instead of the command.
final class TerminalForeground {
    private let fd: Int32
    private let ourGroup: pid_t
    private var handed = false

    init(fd: Int32) {
        self.fd = fd
        ourGroup = getpgrp()
    }

    func hand(to child: ChildProcess) {
        guard isatty(fd) == 1, tcgetpgrp(fd) == ourGroup else { return }
        if tcsetpgrp(fd, child.pid) == 0 {
            handed = true
            // It may already have stopped on SIGTTIN before it owned the terminal.
            child.signal(SIGCONT)
        }
    }

    func reclaim() {
        guard handed else { return }
        _ = tcsetpgrp(fd, ourGroup)
        handed = false
    }
}
