/// virt-sysprep's default operations that make an image safe to clone, each a shell script run in the
/// image's chroot. Paths that do not exist are skipped; nothing outside the image can be reached.
public enum SysprepOperation: String, CaseIterable, Sendable {
    case bashHistory = "bash-history"
    case dhcpClientState = "dhcp-client-state"
    case dhcpServerState = "dhcp-server-state"
    case logfiles
    case machineID = "machine-id"
    case mailSpool = "mail-spool"
    case netHwaddr = "net-hwaddr"
    case packageManagerCache = "package-manager-cache"
    case randomSeed = "random-seed"
    case rpmDB = "rpm-db"
    case sshHostkeys = "ssh-hostkeys"
    case sshUserdir = "ssh-userdir"
    case tmpFiles = "tmp-files"
    case udevPersistentNet = "udev-persistent-net"
    case utmp

    /// The default set: all but `ssh-userdir`, which virt-sysprep also leaves out by default.
    public static let defaults: [SysprepOperation] = allCases.filter { $0 != .sshUserdir }

    public var summary: String {
        switch self {
        case .bashHistory: "remove the bash history of root and every user in /home"
        case .dhcpClientState: "remove DHCP client leases"
        case .dhcpServerState: "remove DHCP server leases"
        case .logfiles: "remove log files under /var/log (the directories stay), and the journal"
        case .machineID: "empty /etc/machine-id and remove /var/lib/dbus/machine-id, so each clone gets its own"
        case .mailSpool: "remove mail in /var/spool/mail and /var/mail"
        case .netHwaddr: "remove HWADDR= lines from ifcfg network scripts"
        case .packageManagerCache: "remove apt, dnf, yum, zypper, apk and pacman caches"
        case .randomSeed: "remove the saved random seed, so clones do not share it"
        case .rpmDB: "remove the host-specific RPM database files (__db.*)"
        case .sshHostkeys: "remove the SSH host keys (regenerated at boot)"
        case .sshUserdir: "remove ~/.ssh of root and every user in /home"
        case .tmpFiles: "remove the contents of /tmp and /var/tmp"
        case .udevPersistentNet: "remove udev persistent network rules (MAC address to interface name)"
        case .utmp: "remove /var/run/utmp"
        }
    }

    /// Shell text for the chroot; globs are ours, never the user's.
    var script: String {
        switch self {
        case .bashHistory: "rm -f /root/.bash_history /home/*/.bash_history"
        case .dhcpClientState: "rm -rf /var/lib/dhclient/* /var/lib/dhcp/* /var/lib/NetworkManager/*.lease /var/lib/NetworkManager/dhclient-*"
        case .dhcpServerState: "rm -rf /var/lib/dhcpd/*"
        case .logfiles:
            """
            if [ -d /var/log ]; then find /var/log -type f -exec rm -f {} \\;; fi
            rm -rf /var/log/journal/*
            """
        case .machineID:
            """
            if [ -f /etc/machine-id ]; then : > /etc/machine-id; fi
            rm -f /var/lib/dbus/machine-id
            """
        case .mailSpool: "rm -rf /var/spool/mail/* /var/mail/*"
        case .netHwaddr:
            """
            for f in /etc/sysconfig/network-scripts/ifcfg-*; do
                if [ -f "$f" ]; then sed -i '/^HWADDR=/d' "$f"; fi
            done
            """
        case .packageManagerCache:
            "rm -rf /var/cache/apt/archives/*.deb /var/cache/apt/*.bin /var/cache/dnf/* /var/cache/yum/* /var/cache/zypp/* /var/cache/apk/* /var/cache/pacman/pkg/*"
        case .randomSeed: "rm -f /var/lib/random-seed /var/lib/systemd/random-seed /var/lib/urandom/random-seed"
        case .rpmDB: "rm -f /var/lib/rpm/__db.*"
        case .sshHostkeys: "rm -f /etc/ssh/ssh_host_*"
        case .sshUserdir: "rm -rf /root/.ssh /home/*/.ssh"
        case .tmpFiles: "rm -rf /tmp/* /tmp/.[!.]* /var/tmp/* /var/tmp/.[!.]*"
        case .udevPersistentNet: "rm -f /etc/udev/rules.d/70-persistent-net.rules"
        case .utmp: "rm -f /var/run/utmp /run/utmp"
        }
    }

    /// `--operations a,b,-c`: names add to an empty set, `-name` removes from the defaults (as virt-sysprep
    /// reads it); `defaults` and `all` stand for those sets.
    public static func select(_ list: String) throws -> [SysprepOperation] {
        var chosen: [SysprepOperation] = []
        let words = list.split(separator: ",").map { String($0).trimmingWhitespace() }
        if words.allSatisfy({ $0.hasPrefix("-") }) { chosen = defaults }
        for word in words {
            let removing = word.hasPrefix("-")
            let name = removing ? String(word.dropFirst()) : word
            let named: [SysprepOperation]
            switch name {
            case "defaults": named = defaults
            case "all": named = allCases
            default:
                guard let operation = SysprepOperation(rawValue: name) else {
                    throw CustomizeArgumentError("--operations", "operation names from --list-operations (or defaults, all, -NAME)",
                                                 got: name)
                }
                named = [operation]
            }
            for operation in named {
                if removing { chosen.removeAll { $0 == operation } } else if !chosen.contains(operation) { chosen.append(operation) }
            }
        }
        guard !chosen.isEmpty else { throw CustomizeArgumentError("--operations", "at least one operation", got: list) }
        return allCases.filter(chosen.contains)
    }
}
