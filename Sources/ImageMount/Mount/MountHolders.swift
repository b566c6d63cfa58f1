import Glibc
import HostSystem

/// A process that keeps a mount busy: its root, working directory or an open file is inside the mount.
public struct MountHolder: Sendable, CustomStringConvertible {
    public let pid: pid_t
    public let command: String
    public var description: String { "\(pid) (\(command))" }
}

/// Finds and ends the processes that keep one of our mounts busy. Only processes in this thread's mount
/// namespace count, so a host process that happens to use the same path is never touched: our namespace
/// is private, and whatever shares it was started by this run.
enum MountHolders {
    static func find(under path: String) -> [MountHolder] {
        guard let ownNamespace = link("/proc/thread-self/ns/mnt") else { return [] }
        var holders: [MountHolder] = []
        let me = getpid()
        for name in entries("/proc") {
            guard let pid = pid_t(name), pid != me else { continue }
            guard link("/proc/\(pid)/ns/mnt") == ownNamespace else { continue }
            let prefix = path.hasSuffix("/") ? path : path + "/"
            let inside = (["root", "cwd"] + openFiles(of: pid)).contains { item in
                guard let target = link("/proc/\(pid)/\(item)") else { return false }
                return target == path || target.hasPrefix(prefix)
            }
            if inside { holders.append(MountHolder(pid: pid, command: command(of: pid))) }
        }
        return holders
    }

    /// SIGKILL to each holder; they are ours (see above) and are blocking teardown.
    static func kill(_ holders: [MountHolder]) {
        for holder in holders { _ = Glibc.kill(holder.pid, SIGKILL) }
    }

    /// "fd/N" for each open descriptor of `pid`.
    private static func openFiles(of pid: pid_t) -> [String] {
        entries("/proc/\(pid)/fd").map { "fd/\($0)" }
    }

    private static func entries(_ path: String) -> [String] {
        guard let directory = try? FileDescriptor.open(path, O_RDONLY | O_DIRECTORY) else { return [] }
        return (try? DirectoryEntries.names(directory)) ?? []
    }

    private static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func command(of pid: pid_t) -> String {
        guard let file = try? FileDescriptor.open("/proc/\(pid)/comm", O_RDONLY),
              let bytes = try? file.read(count: 64) else { return "?" }
        return String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
    }
}
