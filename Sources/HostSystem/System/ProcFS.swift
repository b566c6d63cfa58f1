import CNBD
import Glibc

/// Facts read from /proc and /sys, for identifying processes and devices safely: a pid alone can be reused,
/// a pid plus its start time cannot.
public enum ProcFS {
    /// A small text file (sysfs attribute, /proc entry) without its trailing newline; nil if unreadable.
    public static func readText(_ path: String, limit: Int = 1 << 20) -> String? {
        guard let file = try? FileDescriptor.open(path, O_RDONLY), let bytes = try? file.read(count: limit) else {
            return nil
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" { text.removeLast() }
        return text
    }

    /// Field 22 of /proc/PID/stat: clock ticks after boot at which the process started.
    public static func startTime(of pid: pid_t) -> UInt64? {
        guard let stat = readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        // The command name (field 2) may hold spaces and parentheses; fields after the last ')' start at 3.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// True if `pid` runs and is the same process that started at `startTime` (not a reused pid, and not
    /// a zombie waiting for its parent).
    public static func isAlive(_ pid: pid_t, startTime: UInt64) -> Bool {
        guard let stat = readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return false }
        return UInt64(fields[19]) == startTime
    }

    /// The inode that identifies a process's mount namespace ("self", "thread-self" or a pid).
    public static func mountNamespace(of process: String) -> UInt64? {
        var info = stat()
        guard stat("/proc/\(process)/ns/mnt", &info) == 0 else { return nil }
        return UInt64(info.st_ino)
    }

    /// The 64-bit id of a process's mount namespace ("self", "thread-self" or a pid). Unlike the inode it is
    /// never reused within a boot, so it tells a live namespace from a dead one whose inode was handed on.
    /// nil when the process is gone or the kernel predates the ioctl (Linux 6.9).
    public static func mountNamespaceID(of process: String) -> UInt64? {
        guard let file = try? FileDescriptor.open("/proc/\(process)/ns/mnt", O_RDONLY) else { return nil }
        defer { try? file.close() }
        var id: UInt64 = 0
        return cnbd_mount_namespace_id(file.rawValue, &id) == 0 ? id : nil
    }

    /// This boot's id (/proc/sys/kernel/random/boot_id): pids, start times and namespace ids mean something
    /// only within the boot that recorded them.
    public static var bootID: String? { readText("/proc/sys/kernel/random/boot_id") }

    /// Where each thread of `pid` waits in the kernel: "tid state wchan" per thread (state from
    /// /proc/PID/task/TID/stat, D = uninterruptible I/O wait), for saying why a process ignores a signal.
    public static func kernelWaits(of pid: pid_t) -> String {
        let tasks = (try? FileTree.entries("/proc/\(pid)/task")) ?? []
        let lines = tasks.sorted().compactMap { tid -> String? in
            guard let stat = readText("/proc/\(pid)/task/\(tid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
            let state = stat[stat.index(after: close)...].split(separator: " ").first.map(String.init) ?? "?"
            let wchan = readText("/proc/\(pid)/task/\(tid)/wchan") ?? "?"
            return "\(tid) \(state) \(wchan.isEmpty || wchan == "0" ? "-" : wchan)"
        }
        return lines.isEmpty ? "(gone)" : lines.joined(separator: ", ")
    }

    /// Every pid listed in /proc.
    public static func pids() -> [pid_t] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var result: [pid_t] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let pid = pid_t(name) { result.append(pid) }
        }
        return result
    }

    /// Mount points (field 5 of /proc/self/mountinfo, octal escapes decoded) in this mount namespace.
    public static func mountPoints() -> [String] {
        guard let info = readText("/proc/thread-self/mountinfo", limit: 16 << 20) else { return [] }
        return info.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 ? unescapeMountField(fields[4]) : nil
        }
    }

    public static func unescapeMountField(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
