import Glibc
import NBDCore

/// Host processes (not zombies) with `argument` in their command line, after up to two seconds for the
/// kernel to finish killing a namespace.
public func hostProcesses(withArgument argument: String) -> [pid_t] {
    func matching() -> [pid_t] {
        ProcFS.pids().filter { pid in
            guard let line = ProcFS.readText("/proc/\(pid)/cmdline"), !line.isEmpty else { return false }
            return line.split(separator: "\0").contains { $0 == argument }
        }
    }
    _ = Poll.until(seconds: 2) { matching().isEmpty }
    return matching()
}
