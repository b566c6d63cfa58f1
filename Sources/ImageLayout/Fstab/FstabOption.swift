/// What an fstab option means to a mount made from the image's fstab, per mount(8), fstab(5) and
/// systemd.mount(5).
public enum FstabOptionKind: Equatable, Sendable {
    /// A filesystem-independent flag mount(2) takes (ro, nosuid, noatime, …).
    case vfsFlag
    /// Passed to the filesystem in mount(2)'s data string (subvol=, compress=, errors=, umask=, context=, …).
    case filesystem
    /// Read only by mount(8), systemd or other userspace; never reaches mount(2). The text says why.
    case userspace(String)
    /// Decides whether or how the entry is mounted at all (noauto, nofail, bind, _netdev, …), not passed on.
    case entry

    /// Filesystem-independent flags mount(2) understands (util-linux's Linux flag map).
    static let vfsFlags: Set<String> = [
        "ro", "rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "sync", "async", "dirsync",
        "atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime",
        "lazytime", "nolazytime", "iversion", "noiversion", "mand", "nomand", "silent", "loud", "nosymfollow",
    ]

    /// Options that only steer userspace, with the sentence a plan shows for dropping them.
    static let userspace: [String: String] = [
        "defaults": "'defaults' means rw,suid,dev,exec,auto,nouser,async, which are mount(2)'s own defaults",
        "auto": "'auto' only says that mount -a and boot mount it, which is the default",
        "nouser": "'nouser' only forbids ordinary users to mount it, the default",
        "nousers": "'nousers' only forbids ordinary users to mount it, the default",
        "noowner": "'noowner' only concerns mounts by ordinary users",
        "nogroup": "'nogroup' only concerns mounts by ordinary users",
        "user": "'user' lets an ordinary user mount it; its implied noexec,nosuid,nodev are kept",
        "users": "'users' lets any user mount it; its implied noexec,nosuid,nodev are kept",
        "owner": "'owner' lets the device's owner mount it; its implied nosuid,nodev are kept",
        "group": "'group' lets the device's group mount it; its implied nosuid,nodev are kept",
        "remount": "'remount' has no meaning in fstab",
    ]

    /// Options with a value that only steer userspace.
    static let userspacePrefixes: [(String, String)] = [
        ("comment=", "comment= is for fstab-maintaining programs only"),
        ("x-", "x-* options are for userspace (systemd, mount helpers) and never reach mount(2)"),
        ("X-", "X-* options are for userspace (systemd, mount helpers) and never reach mount(2)"),
        ("user=", "user= records who mounted it, for userspace only"),
        ("uhelper=", "uhelper= names an unmount helper, for userspace only"),
        ("helper=", "helper= names a mount helper, for userspace only"),
    ]

    static let entryOptions: Set<String> = [
        "noauto", "nofail", "_netdev", "bind", "rbind", "move", "rmove", "loop",
    ]
    static let entryPrefixes = ["loop=", "offset=", "sizelimit=", "encryption=", "X-mount.subdir=", "x-mount.subdir="]

    /// Flags that `user`, `users`, `owner` and `group` imply, placed where the option stands so that a later
    /// option ("user,exec") overrides them, as mount(8) describes.
    static let implied: [String: [String]] = [
        "user": ["noexec", "nosuid", "nodev"], "users": ["noexec", "nosuid", "nodev"],
        "owner": ["nosuid", "nodev"], "group": ["nosuid", "nodev"],
    ]

    public static func classify(_ option: String) -> FstabOptionKind {
        if vfsFlags.contains(option) { return .vfsFlag }
        if entryOptions.contains(option) || entryPrefixes.contains(where: option.hasPrefix) { return .entry }
        if let reason = userspace[option] { return .userspace(reason) }
        if let (_, reason) = userspacePrefixes.first(where: { option.hasPrefix($0.0) }) { return .userspace(reason) }
        return .filesystem
    }
}

/// An option the plan does not pass to mount(2), and why.
public struct DroppedFstabOption: Equatable, Sendable {
    public let option: String
    public let reason: String
}
