import CNBD
import Glibc
import Synchronization

/// Options for starting a child; the defaults give a plain child with /dev/null streams.
public struct SpawnOptions: Sendable {
    /// chroot(2) into this directory before exec; the executable path is then resolved inside it.
    public var root: String?
    public var directory: String?
    public var stdin: Int32 = -1
    public var stdout: Int32 = -1
    public var stderr: Int32 = -1
    /// Put the child in its own process group so a cancel can signal everything it started.
    public var newProcessGroup = false
    /// Signal the child gets when the thread that spawned it exits (PR_SET_PDEATHSIG).
    public var deathSignal: Int32 = SIGTERM
    public var unshareFlags: Int32 = 0
    /// Start the child as PID 1 of new PID and mount namespaces: when it ends, or when the spawning thread
    /// dies, the kernel kills every process the command left behind (see cnbd_spawn.h).
    public var processNamespace = false
    /// With `processNamespace`: mount that namespace's own /proc on /proc (inside `root`), so the command
    /// sees only its own processes.
    public var mountProc = false
    /// With `processNamespace`: pivot_root(2) into `root` and detach the old root, instead of chroot(2), so
    /// that nothing of the host's tree is left in the command's mount namespace.
    public var pivotRoot = false
    /// With `processNamespace`: a UTS namespace of its own with this host name.
    public var hostname: String?
    /// With `processNamespace`: an empty network namespace (loopback only, up).
    public var newNetwork = false
    /// With `processNamespace`: bound read-only (inside the new root) once /proc is mounted.
    public var readOnlyPaths: [String] = []
    /// With `processNamespace`: the command keeps only these capabilities (bit N = capability N), in every
    /// set including the bounding set; nil keeps them all.
    public var keepCapabilities: UInt64?
    /// With `processNamespace`: a binfmt_misc registration line for a user namespace of the child's own
    /// (identity-mapped) with a private binfmt_misc instance holding only this handler (see cnbd_spawn.h).
    public var binfmtRegistration: String?

    public init() {}
}

/// A child process with one owner, who must `wait()` for it or `terminate()` it. Teardown is data:
/// SIGTERM, a grace period, then SIGKILL, and the child is always reaped.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// What was started, for messages: the executable and its arguments.
    public let commandLine: String
    public let processGroup: Bool
    /// Set once the child is reaped; held while reaping and signalling so a signal never hits a reused pid.
    private let status = Mutex<ExitStatus?>(nil)

    private init(pid: pid_t, commandLine: String, processGroup: Bool) {
        self.pid = pid
        self.commandLine = commandLine
        self.processGroup = processGroup
    }

    /// Starts `executable` (an absolute path, or a name looked up in PATH unless `options.root` is set).
    public static func spawn(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        options: SpawnOptions = SpawnOptions()
    ) throws -> ChildProcess {
        let path = options.root == nil ? try ExecutableLookup.resolve(executable) : executable
        let env = environment ?? ProcessEnvironment.current
        let argv = [executable] + arguments
        var stage: Int32 = 0
        var error: Int32 = 0
        let pid: pid_t = withCStringArray(argv) { argvPointer in
            withCStringArray(env.map { "\($0.key)=\($0.value)" }) { envPointer in
                withOptionalCString(options.root) { root in
                    withOptionalCString(options.directory) { directory in
                        withOptionalCString(options.hostname) { hostname in
                            withCStringArray(options.readOnlyPaths) { readOnlyPaths in
                                withOptionalCString(options.binfmtRegistration) { registration in
                                    var attr = cnbd_spawn_attr(
                                        root: root, directory: directory,
                                        stdin_fd: options.stdin, stdout_fd: options.stdout, stderr_fd: options.stderr,
                                        new_process_group: options.newProcessGroup ? 1 : 0,
                                        death_signal: options.deathSignal, unshare_flags: options.unshareFlags,
                                        process_namespace: options.processNamespace ? 1 : 0, mount_proc: options.mountProc ? 1 : 0,
                                        pivot_root: options.pivotRoot ? 1 : 0, hostname: hostname,
                                        new_network: options.newNetwork ? 1 : 0, read_only_paths: readOnlyPaths,
                                        limit_capabilities: options.keepCapabilities == nil ? 0 : 1,
                                        keep_capabilities: options.keepCapabilities ?? 0,
                                        binfmt_register: registration)
                                    return cnbd_spawn(path, argvPointer, envPointer, &attr, &stage, &error)
                                }
                            }
                        }
                    }
                }
            }
        }
        if pid < 0 { throw SpawnError(executable: path, stage: stage, errno: error) }
        return ChildProcess(pid: pid, commandLine: argv.joined(separator: " "), processGroup: options.newProcessGroup)
    }

    /// The exit status if the child has ended, without blocking.
    public func poll() -> ExitStatus? {
        status.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid { status = ExitStatus(waitStatus: raw) }
            return status
        }
    }

    /// Blocks until the child ends; safe to call again (returns the same status).
    @discardableResult
    public func wait() -> ExitStatus {
        if let done = poll() { return done }
        var raw: Int32 = 0
        while true {
            let result = waitpid(pid, &raw, 0)
            if result == pid { break }
            if result == -1 && errno == EINTR { continue }
            // ECHILD: reaped by a concurrent wait(); poll() will have the status.
            if let done = poll() { return done }
            return status.withLock { $0 ?? .signaled(SIGKILL) }
        }
        return status.withLock { status in
            let done = status ?? ExitStatus(waitStatus: raw)
            status = done
            return done
        }
    }

    /// Waits up to `seconds` for the child to end and reaps it; nil if it is still running. The wait is
    /// poll(2) on a pidfd, which becomes readable when the child exits, so it wakes at once.
    public func wait(timeout seconds: Double) -> ExitStatus? {
        if let done = poll() { return done }
        guard let exited = try? pidfdWait(seconds) else {
            // No pidfd (kernel before 5.3): nothing to block on but the exit status itself.
            Poll.until(seconds: seconds) { poll() != nil }
            return poll()
        }
        return exited ? wait() : poll()
    }

    /// True once the child exited, false at the deadline.
    private func pidfdWait(_ seconds: Double) throws -> Bool {
        let fd = FileDescriptor(
            adopting: try syscall("pidfd_open", path: commandLine) { cnbd_pidfd_open(pid) }, path: "pidfd of \(pid)")
        defer { try? fd.close() }
        let deadline = Monotonic.now + seconds
        var entry = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        while true {
            let milliseconds = Int32(max(0, min(Double(Int32.max), ((deadline - Monotonic.now) * 1000).rounded(.up))))
            if try syscall("poll", path: commandLine, { Glibc.poll(&entry, 1, milliseconds) }) > 0 { return true }
            if Monotonic.now >= deadline { return false }
        }
    }

    /// Sends `signal` to the child (to its whole group if it has one). Does nothing once it is reaped.
    public func signal(_ signal: Int32) {
        status.withLock { status in
            guard status == nil else { return }
            _ = processGroup ? kill(-pid, signal) : kill(pid, signal)
        }
    }

    /// Sends `signal`, and again every `interval` seconds, until the child ends or `grace` seconds have passed;
    /// nil if it still runs then. For children that can absorb a signal without waking: qemu-storage-daemon's
    /// handler only sets a flag that its main loop tests before it blocks in ppoll(2), so a SIGTERM that lands
    /// between the test and the ppoll is lost until something else wakes the loop (docs/attach.md); the next
    /// one interrupts the ppoll.
    public func signalRepeatedly(_ signal: Int32, every interval: Double, for grace: Double) -> ExitStatus? {
        let deadline = Monotonic.now + grace
        while true {
            self.signal(signal)
            if let done = wait(timeout: max(0, min(interval, deadline - Monotonic.now))) { return done }
            if Monotonic.now >= deadline { return nil }
        }
    }

    /// SIGTERM (sent again every `resendEvery` seconds, if given), wait up to `grace` seconds, then SIGKILL;
    /// always reaps. Idempotent.
    @discardableResult
    public func terminate(grace: Double = 5, resendEvery interval: Double? = nil) -> ExitStatus {
        if let done = poll() { return done }
        if let done = signalRepeatedly(SIGTERM, every: interval ?? grace, for: grace) { return done }
        signal(SIGKILL)
        return wait()
    }
}

/// Monotonic seconds, for deadlines.
public enum Monotonic {
    public static var now: Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

package func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

package func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

extension ChildProcess {
    /// Sets the nice value of every thread the child has now: Linux keeps it per thread, and threads the
    /// child starts later inherit their creator's. The corresponding syscall is setpriority(PRIO_PROCESS, tid).
    /// Lowering it below 0 needs CAP_SYS_NICE. Does nothing once the child is reaped.
    public func setNice(_ value: Int32) throws {
        try status.withLock { status in
            guard status == nil else { return }
            let tasks = (try? FileTree.entries("/proc/\(pid)/task")).map { $0.compactMap { pid_t($0) } } ?? [pid]
            for task in tasks {
                try syscall("setpriority", path: "thread \(task) of \(commandLine)") {
                    setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(task), value)
                }
            }
        }
    }
}
