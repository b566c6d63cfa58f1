import Glibc
import NBDCore
import Testing
import TestSupport

/// `isolation: strict` and `network: false`, seen from inside the image by a root shell that tries to reach
/// the host: its disks (the very loop device the image is on), new device nodes, /sys, /proc/sys, its
/// processes, its host name and its network.
@Suite(.serialized) struct ChrootStrictIsolationTests {
    static let strict = ChrootIsolation(strict: true)
    static let extraApplets = ["ls", "tr", "mknod", "hostname", "mount", "grep", "cat", "wc"]

    /// A busybox image with a few more applets, a host name, and a block device node of its own pointing at
    /// the loop device the test attaches it to (made after attaching, with debugfs, since the number is
    /// known only then).
    static func image() throws -> BusyboxImage {
        try BusyboxImage { seed in
            for applet in extraApplets where access("\(seed)/bin/\(applet)", F_OK) != 0 { symlink("busybox", "\(seed)/bin/\(applet)") }
            try Command.check("/bin/sh", ["-c", "echo strict-image > \(seed)/etc/hostname"])
        }
    }

    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func strictModeHidesHostDisksAndRefusesDeviceNodes() throws {
        let image = try Self.image()
        let loop = String(image.device.dropFirst("/dev/".count))
        let (major, minor) = try Self.deviceNumber(of: loop)
        // A node the image itself ships for the host's loop device: nodev must keep it closed.
        try Command.check(try ExecutableLookup.resolve("debugfs"), ["-w", "-R", "mknod /root/shipped b \(major) \(minor)", image.imagePath])
        let (text, status) = try Self.run(image, Self.strict, """
            echo dev: $(ls /dev | tr '\\n' ' ')
            test -e \(image.device) && echo host-disk-visible
            cat /root/shipped > /dev/null 2>&1 && echo shipped-node-readable
            mknod /tmp/disk b \(major) \(minor) 2>&1 && echo mknod-block-worked
            mknod /tmp/chr c 1 3 2>&1 && echo mknod-char-worked
            mknod /tmp/fifo p && echo fifo-ok
            mount -t devtmpfs none /tmp 2>&1 && echo devtmpfs-mounted
            echo null: $(echo x > /dev/null && echo ok) zero: $(head -c 3 /dev/zero | wc -c) urandom: $(head -c 4 /dev/urandom | wc -c)
            test -c /dev/pts/ptmx && echo pts-ok
            """)
        #expect(status == .exited(0), "\(text)")
        #expect(text.contains("dev: fd full null ptmx pts random shm stderr stdin stdout tty urandom zero\n"), "\(text)")
        for broken in ["host-disk-visible", "shipped-node-readable", "mknod-block-worked", "mknod-char-worked", "devtmpfs-mounted"] {
            #expect(!text.contains(broken), "\(text)")
        }
        #expect(text.contains("mknod: /tmp/disk: Operation not permitted"), "\(text)")
        #expect(text.contains("fifo-ok"), "\(text)")
        #expect(text.contains("null: ok zero: 3 urandom: 4"), "\(text)")
        #expect(text.contains("pts-ok"), "\(text)")
    }

    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func strictModeKeepsSysProcSysProcessesHostNameAndCapabilitiesFromTheHost() throws {
        let image = try Self.image()
        let loop = String(image.device.dropFirst("/dev/".count))
        let ours = getpid()
        // Writing back the value it holds: harmless to the host even if the write went through.
        let attribute = "/sys/block/\(loop)/queue/read_ahead_kb"
        let (text, status) = try Self.run(image, Self.strict, """
            v=$(cat \(attribute)); echo $v > \(attribute) 2>/dev/null && echo sys-writable
            touch /sys/x 2>/dev/null && echo sys-creatable
            mount -o remount,rw /sys 2>/dev/null && echo sys-remounted
            echo other > /proc/sys/kernel/hostname 2>/dev/null && echo proc-sys-writable
            echo host: $(hostname)
            echo processes: $(ls /proc | grep -c '^[0-9][0-9]*$')
            test -e /proc/\(ours) && echo host-process-visible
            grep -E '^Cap(Bnd|Eff|Prm|Inh|Amb):' /proc/self/status
            """)
        #expect(status == .exited(0), "\(text)")
        for broken in ["sys-writable", "sys-creatable", "sys-remounted", "proc-sys-writable", "host-process-visible"] {
            #expect(!text.contains(broken), "\(text)")
        }
        var hostName = [CChar](repeating: 0, count: 256)
        gethostname(&hostName, hostName.count)
        #expect(text.contains("host: strict-image\n"), "\(text)")
        #expect(String(cString: hostName) != "strict-image")
        let processes = text.split(separator: "\n").first { $0.hasPrefix("processes: ") }.flatMap { Int($0.dropFirst(11)) }
        #expect((processes ?? 99) <= 5, "\(text)")
        let kept = ChrootIsolation.keptCapabilities.reduce(UInt64(0)) { $0 | 1 << UInt64($1.rawValue) }
        for set in ["CapBnd", "CapEff", "CapPrm"] {
            let mask = Self.capabilityMask(set, in: text)
            #expect(mask == kept, "\(set) in \(text)")
            for dropped in [Capability.sysAdmin, .mknod, .sysModule, .sysRawio, .sysBoot, .sysTime, .netAdmin] {
                #expect((mask ?? ~0) & (1 << UInt64(dropped.rawValue)) == 0, "\(set) keeps \(dropped)")
            }
        }
        #expect(Self.capabilityMask("CapInh", in: text) == 0)
        #expect(Self.capabilityMask("CapAmb", in: text) == 0)
    }

    /// The default mode is unchanged: the host's /dev and every capability (what docs/security.md says).
    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func standardModeStillBindsTheHostDev() throws {
        let image = try Self.image()
        let (text, status) = try Self.run(image, .standard, "test -b \(image.device) && echo host-disk-visible")
        #expect(status == .exited(0))
        #expect(text == "host-disk-visible\n")
    }

    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func networkFalseLeavesOnlyLoopback() throws {
        let image = try Self.image()
        let script = "grep ':' /proc/net/dev | while read name rest; do echo \"if $name\"; done"
        for isolation in [ChrootIsolation(strict: true, network: false), ChrootIsolation(strict: false, network: false)] {
            let (text, status) = try Self.run(image, isolation, script)
            #expect(status == .exited(0))
            #expect(text == "if lo:\n", "\(isolation): \(text)")
        }
        // The host has more than loopback, or the check above proves nothing.
        let (host, _) = try Self.run(image, .standard, script)
        #expect(host.split(separator: "\n").count > 1, "the host has only loopback: \(host)")
    }

    /// The real dpkg (the host's binaries and libraries copied into the busybox image) installs a package
    /// with a maintainer script under strict isolation: ownership, modes, renames, fsync, /dev/null.
    @Test(.enabled(if: Self.dpkgRequirements == nil, "\(Self.dpkgRequirements ?? "")"), .timeLimit(.minutes(2)))
    func dpkgInstallsAPackageUnderStrictIsolation() throws {
        let work = try TemporaryDirectory("qemu-chroot-strict-dpkg")
        let package = work.file("hello")
        try Command.check("/bin/sh", ["-c", """
            mkdir -p \(package)/DEBIAN \(package)/usr/share/hello
            printf 'Package: hello\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: test <t@example.org>\\nDescription: test\\n' > \(package)/DEBIAN/control
            printf '#!/bin/sh\\nset -e\\nchown 1:1 /usr/share/hello/msg\\necho configured > /var/tmp/postinst-ran\\n' > \(package)/DEBIAN/postinst
            chmod 755 \(package)/DEBIAN/postinst
            echo hello from a package > \(package)/usr/share/hello/msg
            """])
        try Command.check(try ExecutableLookup.resolve("dpkg-deb"), ["--root-owner-group", "-Zgzip", "--build", package, work.file("hello.deb")])
        let image = try BusyboxImage { seed in
            for applet in Self.extraApplets + ["chown", "diff", "rm", "mv"] where access("\(seed)/bin/\(applet)", F_OK) != 0 {
                symlink("busybox", "\(seed)/bin/\(applet)")
            }
            try Self.copyWithLibraries(["/usr/bin/dpkg", "/usr/bin/dpkg-deb", "/usr/bin/dpkg-split", "/usr/bin/dpkg-query", "/usr/bin/tar"], into: seed)
            try Command.check("/bin/sh", ["-c", """
                mkdir -p \(seed)/var/lib/dpkg/info \(seed)/var/lib/dpkg/updates \(seed)/var/lib/dpkg/triggers \(seed)/var/tmp \(seed)/usr/sbin
                touch \(seed)/var/lib/dpkg/status \(seed)/var/lib/dpkg/available
                ln -s /bin/true \(seed)/usr/sbin/ldconfig; ln -s /bin/true \(seed)/usr/sbin/start-stop-daemon
                cp \(work.file("hello.deb")) \(seed)/root/hello.deb
                """])
        }
        // Full paths: busybox's sh runs its own dpkg applet for a bare `dpkg`.
        let (text, status) = try Self.run(image, Self.strict, """
            export PATH=/usr/sbin:/usr/bin:/sbin:/bin
            /usr/bin/dpkg -i /root/hello.deb 2>&1 && echo installed
            /usr/bin/dpkg -s hello | grep '^Status:'
            cat /usr/share/hello/msg /var/tmp/postinst-ran
            stat -c '%u:%g' /usr/share/hello/msg
            """)
        #expect(status == .exited(0), "\(text)")
        #expect(text.contains("installed\nStatus: install ok installed\nhello from a package\nconfigured\n1:1\n"), "\(text)")
    }

    static let dpkgRequirements = BusyboxImage.requirements ?? Host.missing(programs: ["dpkg", "dpkg-deb", "ldd"])

    // MARK: helpers

    /// Runs `script` in a chroot session over `image` with `isolation` and its default chroot mounts.
    static func run(_ image: BusyboxImage, _ isolation: ChrootIsolation, _ script: String) throws -> (String, NBDCore.ExitStatus) {
        try inPrivateMountNamespace { () throws -> (String, NBDCore.ExitStatus) in
            let session = try ChrootSession(device: image.device, fstype: "ext4", mountPath: image.mountPath,
                                            chrootMounts: isolation.defaultMounts, isolation: isolation)
            defer { try? session.unmountAll() }
            let out = OutputCollector()
            let status = try session.run(script, stdout: out.output, stderr: out.output)
            try session.unmountAll()
            return (out.text, status)
        }
    }

    static func deviceNumber(of name: String) throws -> (UInt32, UInt32) {
        let text = try Command.check("/bin/cat", ["/sys/block/\(name)/dev"]).trimmingWhitespace()
        let parts = text.split(separator: ":").compactMap { UInt32($0) }
        guard parts.count == 2 else { throw SystemError("read", path: "/sys/block/\(name)/dev", errno: EINVAL) }
        return (parts[0], parts[1])
    }

    static func capabilityMask(_ set: String, in text: String) -> UInt64? {
        text.split(separator: "\n").first { $0.hasPrefix(set + ":") }
            .flatMap { UInt64(String($0.dropFirst(set.count + 1)).trimmingWhitespace(), radix: 16) }
    }

    /// Copies executables and the shared libraries `ldd` names (and the loader) to the same paths in `seed`.
    static func copyWithLibraries(_ executables: [String], into seed: String) throws {
        var files = Set(executables)
        for executable in executables {
            let listing = try Command.check(try ExecutableLookup.resolve("ldd"), [executable])
            for word in listing.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) where word.hasPrefix("/") {
                files.insert(String(word))
            }
        }
        for file in files {
            try Command.check("/bin/cp", ["-L", "--parents", file, seed])
        }
    }
}
