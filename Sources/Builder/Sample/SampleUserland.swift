import Glibc
import NBDCore

/// The root trees of sample images: busybox-static with its applets, or a debootstrapped Debian.
enum SampleUserland {
    static let busyboxPaths = ["/bin/busybox", "/usr/bin/busybox"]

    /// `program`: a busybox-static for another architecture; its applets are the host busybox's list (it
    /// cannot run here to list its own), so the two should be the same busybox release.
    static func busybox(into root: String, program: String? = nil) throws {
        guard let host = busyboxPaths.first(where: { access($0, X_OK) == 0 }) else {
            throw BuildError("busybox not found (Debian: apt-get install busybox-static)")
        }
        let busybox = program ?? host
        for directory in ["bin", "etc", "root", "tmp", "proc", "sys", "dev", "dev/pts", "run", "var/tmp", "usr", "home"] {
            try FileTree.makeDirectories("\(root)/\(directory)")
        }
        chmod("\(root)/tmp", 0o1777)
        chmod("\(root)/var/tmp", 0o1777)
        chmod("\(root)/root", 0o700)
        let file = try FileDescriptor.open(busybox, O_RDONLY)
        let bytes = try file.read(count: 64 << 20)
        try file.close()
        let copy = try FileDescriptor.open("\(root)/bin/busybox", O_WRONLY | O_CREAT | O_TRUNC, mode: 0o755)
        try copy.writeAll(bytes)
        try copy.close()
        let applets = try Command.check(host, ["--list"]).split(separator: "\n").map(String.init)
        for applet in applets where applet != "busybox" && !applet.contains("/") {
            try syscall("symlink", path: "\(root)/bin/\(applet)") { symlink("busybox", "\(root)/bin/\(applet)") }
        }
        for link in ["sbin", "usr/bin", "usr/sbin"] {
            let target = link.hasPrefix("usr/") ? "../bin" : "bin"
            try syscall("symlink", path: "\(root)/\(link)") { symlink(target, "\(root)/\(link)") }
        }
        try write("\(root)/etc/os-release", """
            NAME="qemu-chroot sample"
            ID=qemu-chroot-sample
            PRETTY_NAME="qemu-chroot sample image (busybox)"
            VERSION_ID=1

            """)
        try write("\(root)/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
        try write("\(root)/etc/group", "root:x:0:\nnogroup:x:65534:\n")
        try write("\(root)/etc/hostname", "sample\n")
        try write("\(root)/etc/fstab", "LABEL=root / ext4 defaults 0 1\n")
        try write("\(root)/etc/resolv.conf", "# placeholder: qemu-chroot copies the host's resolv.conf here during builds\n")
    }

    static func debootstrap(into root: String) throws {
        guard ExecutableLookup.exists("debootstrap") else {
            throw BuildError("--debian needs debootstrap, which is not installed (Debian: apt-get install debootstrap); without --debian a busybox image is made")
        }
        try Command.check("debootstrap", ["--variant=minbase", "stable", root, "http://deb.debian.org/debian"])
    }

    static func write(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        try file.writeAll(Array(text.utf8))
        try file.close()
    }
}
