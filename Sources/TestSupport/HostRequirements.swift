import Glibc
import NBDCore

/// Real probes of what this host can do, so tests that need something missing skip with the reason.
public enum Host {
    public static var isRoot: Bool { geteuid() == 0 }

    public static func has(_ program: String) -> Bool { ExecutableLookup.exists(program) }

    /// The kernel nbd driver is loaded (the generic-netlink family exists only then).
    public static var hasNBDModule: Bool { access("/sys/module/nbd", F_OK) == 0 }

    public static var hasLoopControl: Bool { access("/dev/loop-control", R_OK | W_OK) == 0 }

    public static var hasFUSE: Bool { access("/dev/fuse", R_OK | W_OK) == 0 }

    /// Set by the VM test runner's init (scripts/vm-nbd), where Debian's kernel with nbd runs.
    public static var insideTestVM: Bool { getenv("VMTEST") != nil }

    /// Why a test needing `programs` (and root, if asked) cannot run here, or nil if it can.
    public static func missing(programs: [String] = [], root: Bool = false, loop: Bool = false,
                               fuse: Bool = false, nbd: Bool = false) -> String? {
        if root && !isRoot { return "needs root" }
        for program in programs where !has(program) { return "needs \(program) (run scripts/setup)" }
        if loop && !hasLoopControl { return "needs /dev/loop-control" }
        if fuse && !hasFUSE { return "needs /dev/fuse" }
        if nbd && !hasNBDModule { return "needs the kernel nbd driver (runs in the VM: make vm-test)" }
        return nil
    }
}
