import Glibc
import NBDCore
import Synchronization
import Testing
import TestSupport

/// Collects a chroot command's streamed output.
final class OutputCollector: Sendable {
    private let received = Mutex<(bytes: [UInt8], chunks: Int)>(([], 0))
    var chunks: Int { received.withLock { $0.chunks } }
    var text: String { received.withLock { String(decoding: $0.bytes, as: UTF8.self) } }
    var output: ChrootOutput { .stream { chunk in self.received.withLock { $0.bytes += chunk; $0.chunks += 1 } } }
}

@Suite(.serialized) struct ChrootSessionTests {
    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func busyboxShellSeesPseudoFilesystemsAndWritesPersist() throws {
        let image = try BusyboxImage()
        let mnt = image.mountPath
        let (seen, status, hostSawMount) = try inPrivateMountNamespace { () throws -> (String, NBDCore.ExitStatus, Bool) in
            let session = try ChrootSession(device: image.device, fstype: "ext4", mountPath: mnt)
            defer { try? session.unmountAll() }
            #expect(mountinfo("/proc/thread-self/mountinfo", contains: mnt + "/proc"))
            let out = OutputCollector()
            let status = try session.run(
                "test -r /proc/self/status && test -d /sys/kernel && test -c /dev/null && test -c /dev/pts/ptmx "
                    + "&& echo visible; echo hi > /root/x; echo ok",
                stdout: out.output, stderr: .discard)
            let hostSaw = mountinfo(contains: mnt) || mountinfo(contains: mnt + "/proc")
            try session.unmountAll()
            try session.unmountAll()  // idempotent
            #expect(!mountinfo("/proc/thread-self/mountinfo", contains: mnt))
            return (out.text, status, hostSaw)
        }
        #expect(status == .exited(0))
        #expect(seen == "visible\nok\n")
        #expect(!hostSawMount, "a mount of the session showed in the host's mountinfo")
        #expect(!mountinfo(contains: mnt))
        #expect(try image.read("/root/x") == "hi\n")
    }

    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func streamsOutputAndReportsExitCodesAndSignals() throws {
        let image = try BusyboxImage()
        try inPrivateMountNamespace {
            let session = try ChrootSession(device: image.device, fstype: "ext4", mountPath: image.mountPath)
            defer { try? session.unmountAll() }
            let out = OutputCollector()
            let err = OutputCollector()
            let status = try session.run("echo out; echo err >&2; echo 'it''s' \"$HOME\"; exit 3",
                                         stdout: out.output, stderr: err.output)
            #expect(status == .exited(3))
            #expect(out.text == "out\nits /root\n")
            #expect(err.text == "err\n")
            // The shell runs under the command's own init, which reports a signal N as 128+N (as a shell does).
            #expect(try session.run("kill -9 $$", stdout: .discard, stderr: .discard) == .exited(128 + SIGKILL))
            let wrapped = OutputCollector()
            let wrapper = try CommandWrapper("env X='a b' {{ .Command }}")
            #expect(try session.run("echo \"$X\" 'q\"uote' '$HOME'", wrapper: wrapper, stdout: wrapped.output,
                                    stderr: .discard) == .exited(0))
            #expect(wrapped.text == "a b q\"uote $HOME\n")
        }
    }

    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func cancelKillsTheWholeProcessGroup() throws {
        let image = try BusyboxImage()
        try inPrivateMountNamespace {
            let session = try ChrootSession(device: image.device, fstype: "ext4", mountPath: image.mountPath)
            defer { try? session.unmountAll() }
            let cancellation = Cancellation()
            let out = OutputCollector()
            let status = try session.run("sleep 1017 & echo $!; sleep 1018", stdout: out.output, stderr: .discard,
                                         cancellation: cancellation, onStart: { _ in
                                             Thread.after(0.3) { cancellation.cancel("test") }
                                         })
            #expect(status == .exited(128 + SIGTERM))
            #expect(pid_t(out.text.trimmingWhitespace()) ?? 0 > 0)
            #expect(hostProcesses(withArgument: "1017").isEmpty, "the background sleep survived the cancel")
        }
    }

    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func busyUnmountKillsHoldersInTheChroot() throws {
        let image = try BusyboxImage()
        try inPrivateMountNamespace {
            let session = try ChrootSession(device: image.device, fstype: "ext4", mountPath: image.mountPath)
            defer { try? session.unmountAll() }
            let out = OutputCollector()
            // A daemon a provisioner leaves behind ends with its command (the command's PID namespace goes),
            // so it never keeps the chroot busy.
            #expect(try session.run("sleep 1019 > /dev/null 2>&1 & echo $!", stdout: out.output, stderr: .discard) == .exited(0))
            #expect(hostProcesses(withArgument: "1019").isEmpty, "the daemon outlived its command")
            try session.unmountAll()
            #expect(!mountinfo("/proc/thread-self/mountinfo", contains: image.mountPath))
        }
    }
}

extension ChrootSessionTests {
    /// A holder that cannot be killed (this test process itself holds a file open on the root): after the
    /// retries the root is detached lazily, and unmountAll says so with an error rather than succeeding.
    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func unkillableHolderEndsInALazyDetachThatIsReported() throws {
        let image = try BusyboxImage()
        let error = try inPrivateMountNamespace { () throws -> SystemError? in
            let session = try ChrootSession(device: image.device, fstype: "ext4", mountPath: image.mountPath, chrootMounts: [])
            session.mounts.busyTimeout = 0.3
            let held = try FileDescriptor.open(image.mountPath + "/bin/busybox", O_RDONLY)
            defer { try? held.close() }
            var caught: SystemError?
            do { try session.unmountAll() } catch let error as SystemError { caught = error }
            #expect(!mountinfo("/proc/thread-self/mountinfo", contains: image.mountPath))
            return caught
        }
        #expect(error?.errno == EBUSY)
        #expect(error?.hint?.contains("detached lazily") == true)
    }
}

extension ChrootSessionTests {
    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func imageWithoutAShellGetsAClearError() throws {
        let image = try BusyboxImage { seed in unlink("\(seed)/bin/sh") }
        let error = try inPrivateMountNamespace { () throws -> ChrootCommandError? in
            let session = try ChrootSession(device: image.device, fstype: "ext4", mountPath: image.mountPath)
            defer { try? session.unmountAll() }
            do { _ = try session.run("true", stdout: .discard, stderr: .discard) } catch let error as ChrootCommandError {
                return error
            }
            return nil
        }
        #expect(error?.description.contains("needs a working /bin/sh") == true)
    }
}

/// Whether `pid` is gone (or a zombie) within two seconds.
/// The pid is not our child (the chroot's shell started it), so there is no pidfd of ours to wait on with
/// its exit status; /proc is all there is.
func waitUntilGone(_ pid: pid_t) -> Bool {
    Poll.until(seconds: 2) {
        guard let fd = try? FileDescriptor.open("/proc/\(pid)/stat", O_RDONLY), let bytes = try? fd.read(count: 512) else { return true }
        let text = String(decoding: bytes, as: UTF8.self)
        if let close = text.lastIndex(of: ")"), text[text.index(close, offsetBy: 2)] == "Z" { return true }
        return false
    }
}

enum Thread {
    /// Runs `body` on a new detached thread after `seconds`.
    static func after(_ seconds: Double, _ body: @escaping @Sendable () -> Void) {
        HostThread.detach {
            HostThread.sleep(seconds)
            body()
        }
    }
}

extension ChrootSessionTests {
    /// A provisioner sees only its own processes: /proc is its PID namespace's, so it cannot reach a host
    /// process (or the host's root through /proc/PID/root).
    @Test(.enabled(if: BusyboxImage.requirements == nil, "\(BusyboxImage.requirements ?? "")"), .timeLimit(.minutes(1)))
    func commandsSeeOnlyTheirOwnProcesses() throws {
        let image = try BusyboxImage()
        let ours = getpid()
        let (text, status) = try inPrivateMountNamespace { () throws -> (String, NBDCore.ExitStatus) in
            let session = try ChrootSession(device: image.device, fstype: "ext4", mountPath: image.mountPath)
            defer { try? session.unmountAll() }
            let out = OutputCollector()
            let status = try session.run(
                "echo self $$; ls /proc | grep -c '^[0-9][0-9]*$'; test -e /proc/\(ours) && echo host-visible; "
                    + "readlink /proc/1/root", stdout: out.output, stderr: .discard)
            return (out.text, status)
        }
        #expect(status == .exited(0))
        let lines = text.split(separator: "\n").map(String.init)
        // The shell is PID 2: PID 1 is the command's init.
        #expect(lines.first == "self 2", "\(text)")
        // init, sh, ls and grep: nothing of the host's.
        #expect(Int(lines.count > 1 ? lines[1] : "") ?? 99 <= 4, "\(text)")
        #expect(!lines.contains("host-visible"), "\(text)")
        #expect(lines.last == "/", "\(text)")
    }
}
