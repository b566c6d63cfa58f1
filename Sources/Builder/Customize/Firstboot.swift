import NBDCore

/// `--firstboot` and `--firstboot-command`: scripts the image runs once, at its next boot, in the order
/// given. A runner moves each script aside once it ran, so a second boot runs nothing. With systemd it is a
/// oneshot unit enabled for multi-user.target (the symlink `systemctl enable` makes); without systemd a
/// line in /etc/rc.local.
enum Firstboot {
    static let directory = "/usr/lib/qemu-chroot/firstboot"
    static let runner = "\(directory)/firstboot.sh"
    static let unitName = "qemu-chroot-firstboot.service"
    static let unit = "/etc/systemd/system/\(unitName)"
    static let wants = "/etc/systemd/system/multi-user.target.wants/\(unitName)"

    static let runnerText = """
        #!/bin/sh
        # qemu-chroot customize --firstboot: runs each script once, in order, then moves it to done/.
        d=\(directory)
        mkdir -p "$d/done"
        for f in "$d"/scripts/*; do
            [ -f "$f" ] || continue
            echo "=== $f ===" >>/var/log/qemu-chroot-firstboot.log
            "$f" >>/var/log/qemu-chroot-firstboot.log 2>&1 || echo "=== $f failed: $? ===" >>/var/log/qemu-chroot-firstboot.log
            mv -f "$f" "$d/done/"
        done

        """

    static let unitText = """
        [Unit]
        Description=qemu-chroot customize first-boot scripts
        After=network-online.target
        Wants=network-online.target
        ConditionDirectoryNotEmpty=\(directory)/scripts

        [Service]
        Type=oneshot
        ExecStart=\(runner)
        RemainAfterExit=yes
        TimeoutSec=0

        [Install]
        WantedBy=multi-user.target

        """
}

extension ImageShell {
    /// Adds `script` (the text of a shell script) to the first-boot scripts and makes sure they run.
    func addFirstboot(_ script: [UInt8], label: String, for operation: String) throws {
        let existing = try output("ls \(Firstboot.directory)/scripts 2>/dev/null | wc -l")?.trimmingWhitespace() ?? "0"
        let number = (Int(existing) ?? 0) + 1
        let name = label.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" }.prefix(40)
        let path = "\(Firstboot.directory)/scripts/\(String(repeating: "0", count: max(0, 4 - String(number).count)))\(number)-\(String(name))"
        try context.communicator.upload(.bytes(script), to: path, mode: 0o755)
        try write(Firstboot.runner, Firstboot.runnerText, mode: 0o755)
        if try holds("test -e /usr/lib/systemd/systemd -o -e /lib/systemd/systemd") {
            try write(Firstboot.unit, Firstboot.unitText, mode: 0o644)
            try run("mkdir -p \(PathName.parent(Firstboot.wants))\nln -sf \(Firstboot.unit) \(Firstboot.wants)", for: operation)
            return
        }
        var rcLocal = try read("/etc/rc.local") ?? "#!/bin/sh\n"
        if !rcLocal.contains(Firstboot.runner) {
            var lines = rcLocal.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            // Before a final `exit 0`, which would otherwise end the script first.
            let at = lines.last?.trimmingWhitespace() == "exit 0" ? lines.count - 1 : lines.count
            lines.insert(Firstboot.runner, at: at)
            rcLocal = lines.joined(separator: "\n") + "\n"
        }
        try write("/etc/rc.local", rcLocal, mode: 0o755)
    }
}
