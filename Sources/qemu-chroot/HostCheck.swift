import Glibc
import NBDCore

/// One line of `qemu-chroot doctor`: a capability, a verdict, and what was found.
struct HostCheck {
    enum Verdict: String {
        case ok = "ok  "
        case warning = "warn"
        case missing = "no  "
    }

    let name: String
    let verdict: Verdict
    let detail: String

    var line: String { "\(verdict.rawValue)  \(name): \(detail)" }

    static func all() -> [HostCheck] {
        [root(), nbdDriver(), loop(), fuse()]
            + ["qemu-storage-daemon", "qemu-img", "qemu-nbd"].map(program)
            + [mountNamespaces(), userNamespaces(), binfmtMisc()] + EmulationCheck.all()
    }

    static func root() -> HostCheck {
        geteuid() == 0
            ? HostCheck(name: "root", verdict: .ok, detail: "running as root")
            : HostCheck(name: "root", verdict: .missing, detail: "not root: attaching and mounting need root")
    }

    static func nbdDriver() -> HostCheck {
        let support = NBDKernelSupport.probe()
        switch support {
        case .netlink, .ioctl:
            return HostCheck(name: "nbd", verdict: .ok, detail: support.summary)
        case .unavailable(let reason):
            return HostCheck(name: "nbd", verdict: .missing, detail: reason)
        }
    }

    /// A real LOOP_CONFIGURE on a scratch file: the only proof that loop devices work here.
    static func loop() -> HostCheck {
        guard access("/dev/loop-control", R_OK | W_OK) == 0 else {
            return HostCheck(name: "loop", verdict: .missing, detail: "/dev/loop-control is not usable: \(Errno.message(errno))")
        }
        guard let (scratch, file) = try? TemporaryFile.make("qemu-chroot-doctor") else {
            return HostCheck(name: "loop", verdict: .warning, detail: "cannot create a scratch file in $TMPDIR or /tmp")
        }
        let fd = file.rawValue
        defer { try? file.close(); unlink(scratch) }
        guard ftruncate(fd, 1 << 20) == 0 else {
            return HostCheck(name: "loop", verdict: .warning, detail: "cannot size a scratch file in /tmp")
        }
        do {
            let device = try LoopDevice.attach(backingFile: scratch, readOnly: true)
            try device.detach()
            return HostCheck(name: "loop", verdict: .ok, detail: "/dev/loop-control and LOOP_CONFIGURE work (\(device.path))")
        } catch {
            return HostCheck(name: "loop", verdict: .missing, detail: "LOOP_CONFIGURE failed: \(error)")
        }
    }

    static func fuse() -> HostCheck {
        access("/dev/fuse", R_OK | W_OK) == 0
            ? HostCheck(name: "fuse", verdict: .ok, detail: "/dev/fuse is usable")
            : HostCheck(name: "fuse", verdict: .missing, detail: "/dev/fuse is not usable: \(Errno.message(errno))")
    }

    static func program(_ name: String) -> HostCheck {
        let path: String
        do { path = try ExecutableLookup.resolve(name) } catch {
            return HostCheck(name: name, verdict: .missing, detail: "\(error)")
        }
        guard let result = try? Command.run(path, ["--version"]), result.status.isSuccess else {
            return HostCheck(name: name, verdict: .warning, detail: "\(path) does not answer --version")
        }
        let version = result.stdout.split(separator: "\n").first.map(String.init) ?? "(no version)"
        return HostCheck(name: name, verdict: .ok, detail: "\(version) at \(path)")
    }

    /// Spawns /bin/true in a new mount namespace: what every run does first.
    static func mountNamespaces() -> HostCheck {
        var options = SpawnOptions()
        options.unshareFlags = 0x0002_0000  // CLONE_NEWNS, which Glibc exports only under _GNU_SOURCE
        do {
            let status = try ChildProcess.spawn("/bin/true", [], options: options).wait()
            guard status.isSuccess else { throw AttachError("/bin/true ended with \(status)") }
            return HostCheck(name: "mount namespaces", verdict: .ok, detail: "unshare(CLONE_NEWNS) works")
        } catch {
            return HostCheck(name: "mount namespaces", verdict: .missing, detail: "\(error)")
        }
    }

    static func userNamespaces() -> HostCheck {
        let maximum = ProcFS.readText("/proc/sys/user/max_user_namespaces").flatMap { Int($0) } ?? 0
        return maximum > 0
            ? HostCheck(name: "user namespaces", verdict: .ok, detail: "up to \(maximum)")
            : HostCheck(name: "user namespaces", verdict: .warning, detail: "disabled (user.max_user_namespaces = 0)")
    }

    static func binfmtMisc() -> HostCheck {
        if let status = ProcFS.readText("/proc/sys/fs/binfmt_misc/status") {
            let handlers = qemuHandlers()
            return HostCheck(name: "binfmt_misc", verdict: .ok,
                             detail: "\(status), \(handlers) qemu-user handler(s) registered")
        }
        let supported = (ProcFS.readText("/proc/filesystems") ?? "").contains("binfmt_misc")
        return HostCheck(name: "binfmt_misc", verdict: .warning, detail: supported
            ? "supported but not mounted on the host; the chroot mounts its own (how images of another "
                + "architecture run is in the private binfmt_misc and emulate lines below)"
            : "not in this kernel: only images of the host's architecture can run commands")
    }

    private static func qemuHandlers() -> Int {
        guard let dir = opendir("/proc/sys/fs/binfmt_misc") else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix("qemu-") { count += 1 }
        }
        return count
    }
}
