import NBDCore

/// `--hostname`, `--timezone` and `--selinux-relabel`: system settings written as the distributions keep them.
extension ImageShell {
    /// /etc/hostname, and in /etc/hosts the old name replaced by the new one (or a 127.0.1.1 line added),
    /// as virt-customize does, so `hostname -f` resolves at boot without DNS.
    func setHostname(_ name: String, for operation: String) throws {
        let old = try read("/etc/hostname")?.trimmingWhitespace() ?? ""
        try write("/etc/hostname", name + "\n")
        let short = String(name.split(separator: ".").first ?? Substring(name))
        guard let hosts = try read("/etc/hosts") else {
            try write("/etc/hosts", "127.0.0.1\tlocalhost\n127.0.1.1\t\(name)\(short == name ? "" : " " + short)\n", mode: 0o644)
            return
        }
        var replaced = false
        var lines = hosts.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for index in lines.indices where !lines[index].trimmingWhitespace().hasPrefix("#") && !old.isEmpty {
            let words = lines[index].split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words.dropFirst().contains(where: { $0 == old }) else { continue }
            lines[index] = ([String(words[0])] + words.dropFirst().map { $0 == old ? name : String($0) }).joined(separator: "\t")
            replaced = true
        }
        if !replaced && !lines.contains(where: { $0.hasPrefix("127.0.1.1") }) {
            if lines.last == "" { lines.removeLast() }
            lines.append("127.0.1.1\t\(name)\(short == name ? "" : " " + short)")
            lines.append("")
        }
        try write("/etc/hosts", lines.joined(separator: "\n"))
    }

    /// /etc/localtime as a relative link into the image's zoneinfo (as systemd makes it), and /etc/timezone
    /// where the distribution keeps one (Debian and its derivatives).
    func setTimezone(_ zone: String, for operation: String) throws {
        let zoneFile = "/usr/share/zoneinfo/\(zone)"
        guard try holds("test -f \(Self.quote(zoneFile))") else {
            throw BuildError("\(operation): the image has no \(zoneFile) (is tzdata installed?)")
        }
        try run("ln -sf \(Self.quote("..\(zoneFile)")) /etc/localtime", for: operation)
        if try holds("test -e /etc/timezone -o -e /etc/debian_version") {
            try write("/etc/timezone", zone + "\n", mode: 0o644)
        }
    }

    /// With the image's policy and setfiles, relabel now; else /.autorelabel for the first boot. An image
    /// without /etc/selinux/config has nothing to relabel (virt-customize does nothing there either).
    func selinuxRelabel(for operation: String) throws {
        guard let config = try read("/etc/selinux/config") else {
            context.log.message("\(operation): the image has no /etc/selinux/config; nothing to relabel")
            return
        }
        let type = config.split(separator: "\n").compactMap { line -> String? in
            line.hasPrefix("SELINUXTYPE=") ? String(line.dropFirst("SELINUXTYPE=".count)).trimmingWhitespace() : nil
        }.first ?? "targeted"
        let contexts = "/etc/selinux/\(type)/contexts/files/file_contexts"
        if try holds("command -v setfiles >/dev/null && test -f \(Self.quote(contexts))") {
            do {
                try run("setfiles -F -e /proc -e /sys -e /dev \(Self.quote(contexts)) /", for: operation)
                return
            } catch let error as BuildError {
                context.log.message("\(error); relabelling at first boot instead (/.autorelabel)")
            }
        }
        try write("/.autorelabel", "", mode: 0o644)
    }
}
