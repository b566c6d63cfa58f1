import Glibc

/// mount(8)-style options split into what mount(2) takes as flags and what it passes to the filesystem
/// as its data string. The table is the whole translation; anything not in it is filesystem data
/// ("mode=0620", "subvol=@", "errors=remount-ro").
public struct MountOptions: Equatable, Sendable {
    public private(set) var flags: UInt = 0
    public private(set) var data: [String] = []

    /// Option name → flags it sets and flags it clears.
    static let table: [String: (set: UInt, clear: UInt)] = [
        "defaults": (0, 0),
        "ro": (UInt(MS_RDONLY), 0), "rw": (0, UInt(MS_RDONLY)),
        "nosuid": (UInt(MS_NOSUID), 0), "suid": (0, UInt(MS_NOSUID)),
        "nodev": (UInt(MS_NODEV), 0), "dev": (0, UInt(MS_NODEV)),
        "noexec": (UInt(MS_NOEXEC), 0), "exec": (0, UInt(MS_NOEXEC)),
        "sync": (UInt(MS_SYNCHRONOUS), 0), "async": (0, UInt(MS_SYNCHRONOUS)),
        "dirsync": (UInt(MS_DIRSYNC), 0),
        "noatime": (UInt(MS_NOATIME), 0), "atime": (0, UInt(MS_NOATIME)),
        "nodiratime": (UInt(MS_NODIRATIME), 0), "diratime": (0, UInt(MS_NODIRATIME)),
        "relatime": (UInt(MS_RELATIME), 0), "norelatime": (0, UInt(MS_RELATIME)),
        "strictatime": (UInt(MS_STRICTATIME), 0),
        "lazytime": (UInt(MS_LAZYTIME), 0), "nolazytime": (0, UInt(MS_LAZYTIME)),
        "silent": (UInt(MS_SILENT), 0), "loud": (0, UInt(MS_SILENT)),
        "bind": (UInt(MS_BIND), 0),
        "rbind": (UInt(MS_BIND | MS_REC), 0),
    ]

    public init() {}

    /// Each element may itself be a comma-separated list, as in `-o ro,noatime`.
    public init(_ options: [String]) {
        for option in options.flatMap({ $0.split(separator: ",") }).map(String.init) {
            add(option)
        }
    }

    public mutating func add(_ option: String) {
        let name = option.trimmingWhitespace()
        guard !name.isEmpty else { return }
        if let entry = Self.table[name] {
            flags = (flags | entry.set) & ~entry.clear
        } else {
            data.append(name)
        }
    }

    public var readOnly: Bool { flags & UInt(MS_RDONLY) != 0 }
    public var isBind: Bool { flags & UInt(MS_BIND) != 0 }

    /// The data argument of mount(2), or nil when there is none.
    public var dataString: String? { data.isEmpty ? nil : data.joined(separator: ",") }

    /// Flags a bind mount needs in its second, remount call: mount(2) ignores them on the bind itself.
    var bindRemountFlags: UInt {
        flags & UInt(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME)
    }
}
