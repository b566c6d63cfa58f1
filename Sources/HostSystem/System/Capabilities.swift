
/// The effective capabilities of this process, from /proc/self/status, to explain an EPERM.
public enum Capabilities {
    public static let sysResource = 24

    public static func has(_ capability: Int) -> Bool {
        guard let status = ProcFS.readText("/proc/self/status"),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(String(line.dropFirst("CapEff:".count)).trimmingWhitespace(), radix: 16) else { return true }
        return mask & (1 << UInt64(capability)) != 0
    }
}
