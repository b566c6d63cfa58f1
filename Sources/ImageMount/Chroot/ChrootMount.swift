import Glibc
import HostSystem

/// One mount inside the chroot, as the seed plugin's `chroot_mounts` entries describe it:
/// `[fstype, source, target, options...]`, where fstype "bind" means a bind mount of the host path
/// `source`, and the target is a path inside the image.
public struct ChrootMount: Equatable, Sendable, CustomStringConvertible {
    public var fstype: String
    public var source: String
    public var target: String
    public var options: [String]

    public init(fstype: String, source: String, target: String, options: [String] = []) {
        self.fstype = fstype
        self.source = source
        self.target = target
        self.options = options
    }

    /// The list form; fewer than three elements is an error that names the entry.
    public init(list: [String]) throws {
        guard list.count >= 3, !list[0].isEmpty, !list[2].isEmpty else {
            throw ChrootMountError.malformed(list)
        }
        self.init(fstype: list[0], source: list[1], target: list[2], options: Array(list.dropFirst(3)))
    }

    /// What a chroot needs to run a distribution's tools: /proc, /sys, the host's /dev, a private devpts
    /// (its own ptmx, so ptys opened in the chroot are not the host's) and binfmt_misc for foreign binaries.
    public static let defaults: [ChrootMount] = [
        ChrootMount(fstype: "proc", source: "proc", target: "/proc", options: ["nosuid", "nodev", "noexec"]),
        ChrootMount(fstype: "sysfs", source: "sysfs", target: "/sys", options: ["nosuid", "nodev", "noexec"]),
        ChrootMount(fstype: "bind", source: "/dev", target: "/dev"),
        ChrootMount(fstype: "devpts", source: "devpts", target: "/dev/pts",
                    options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        ChrootMount(fstype: "binfmt_misc", source: "binfmt_misc", target: "/proc/sys/fs/binfmt_misc",
                    options: ["nosuid", "nodev", "noexec"]),
    ]

    public var isBind: Bool { fstype == "bind" }

    public var mountOptions: MountOptions {
        var parsed = MountOptions(options)
        if isBind && !parsed.isBind { parsed.add("bind") }
        return parsed
    }

    /// binfmt_misc is optional: a host kernel without it still runs native binaries.
    var isOptional: Bool { fstype == "binfmt_misc" }

    public var description: String { ([fstype, source, target] + options).joined(separator: " ") }
}

public enum ChrootMountError: Error, CustomStringConvertible {
    case malformed([String])

    public var description: String {
        switch self {
        case .malformed(let list):
            return "chroot_mounts entry \(list) needs at least [fstype, source, target] (then options), "
                + "e.g. [\"proc\", \"proc\", \"/proc\"] or [\"bind\", \"/dev\", \"/dev\"]"
        }
    }
}

package enum HostFilesystems {
    /// Whether the running kernel knows `fstype` (from /proc/filesystems).
    package static func supports(_ fstype: String) -> Bool {
        guard let file = try? FileDescriptor.open("/proc/filesystems", O_RDONLY),
              let bytes = try? file.read(count: 1 << 16) else { return true }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").contains {
            $0.split(whereSeparator: { $0 == "\t" || $0 == " " }).last.map(String.init) == fstype
        }
    }
}
