import CNBD
import Glibc
import HostSystem
import Synchronization

/// Where a chroot command's stdout or stderr goes.
public enum ChrootOutput {
    /// Chunks as they arrive, on the thread that called `run`.
    case stream(([UInt8]) -> Void)
    /// Straight to a descriptor we hold (a terminal, a log file); the child gets a duplicate.
    case descriptor(Int32)
    case discard
}

/// Runs `/bin/sh -c <command>` chrooted into a root directory, in its own process group: cnbd_spawn forks,
/// chroots, changes to /, and execs with exactly the given environment.
///
/// In an image (`isolated`), the shell runs under a small init in PID and mount namespaces of its own: the
/// command sees only its own processes in /proc, and nothing it starts outlives it or the run (kill -9 of
/// qemu-chroot ends them all at once). Mounts a command makes inside the image go away with it.
public struct ChrootCommand: Sendable {
    public let root: String
    /// Own PID and mount namespaces (and /proc, when the root has a /proc mount of ours); host commands
    /// (root "/") must run without, so their mounts and processes belong to the run.
    public let isolated: Bool
    /// With `isolated`: mount the namespace's own proc on /proc (the chroot mounts put one there).
    public let mountsProc: Bool
    /// With `isolated`: strict mode and the network (see `ChrootIsolation`).
    public let isolation: ChrootIsolation
    /// With `isolated`: run the image's programs through this emulator, registered in a binfmt_misc of the
    /// command's own user namespace (see `EmulationPlan`).
    public let emulation: BinfmtHandler?

    public init(root: String, isolated: Bool = true, mountsProc: Bool = true, isolation: ChrootIsolation = .standard,
                emulation: BinfmtHandler? = nil) {
        self.root = root
        self.isolated = isolated
        self.mountsProc = mountsProc
        self.isolation = isolation
        self.emulation = emulation
    }

    /// What a provisioning command sees unless the caller says otherwise: no host variables leak in.
    public static var defaultEnvironment: [String: String] {
        var environment = [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root", "SHELL": "/bin/sh", "LANG": "C.UTF-8",
        ]
        if let term = getenv("TERM") { environment["TERM"] = String(cString: term) }
        return environment
    }

    /// Seconds between SIGTERM and SIGKILL when cancelled.
    public static let killGrace = 5.0

    /// Runs to completion (or until cancelled: SIGTERM to the whole group, SIGKILL after `killGrace`) and
    /// returns how the shell ended. Output still buffered when the shell exits is delivered; background
    /// processes that keep the pipes open do not make `run` wait for them.
    public func run(
        _ command: String, environment: [String: String]? = nil, wrapper: CommandWrapper = .identity,
        stdin: Int32 = -1, stdout: ChrootOutput, stderr: ChrootOutput, cancellation: Cancellation? = nil,
        onStart: ((ChildProcess) -> Void)? = nil
    ) throws -> ExitStatus {
        let out = try OutputPipe(stdout)
        let err = try OutputPipe(stderr)
        var options = SpawnOptions()
        options.root = root
        options.directory = "/"
        options.stdin = stdin
        options.stdout = out.childEnd
        options.stderr = err.childEnd
        options.newProcessGroup = true
        options.processNamespace = isolated
        options.mountProc = isolated && mountsProc
        if isolated { isolation.apply(to: &options, image: RootedPath(root: root)) }
        options.binfmtRegistration = isolated ? emulation?.registration : nil
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn("/bin/sh", ["-c", wrapper.render(command)],
                                           environment: environment ?? Self.defaultEnvironment, options: options)
        } catch let error as SpawnError where error.stage == Int32(CNBD_SPAWN_EXEC.rawValue) {
            throw ChrootCommandError(root: root, cause: error)
        }
        out.closeChildEnd()
        err.closeChildEnd()
        onStart?(child)
        let killAt = KillDeadline()
        let token = cancellation?.onCancel {
            killAt.set(Monotonic.now + Self.killGrace)
            child.signal(SIGTERM)
        }
        defer { if let token { cancellation?.remove(token) } }
        OutputPipe.pump([out, err]) {
            if let deadline = killAt.value, Monotonic.now >= deadline { child.signal(SIGKILL) }
            return child.poll() != nil
        }
        // Every pipe may close before the shell exits: wait on its pidfd, looking at the cancel deadline
        // between waits.
        while child.wait(timeout: 0.1) == nil {
            if let deadline = killAt.value, Monotonic.now >= deadline { child.signal(SIGKILL) }
        }
        return child.wait()
    }
}

/// The moment a cancelled command gets SIGKILL.
private final class KillDeadline: Sendable {
    private let deadline = Mutex<Double?>(nil)
    var value: Double? { deadline.withLock { $0 } }
    func set(_ value: Double) { deadline.withLock { if $0 == nil { $0 = value } } }
}

/// The chroot's shell could not be started: the image has no usable /bin/sh (missing, a dangling symlink,
/// or built for another architecture without binfmt_misc support for it).
public struct ChrootCommandError: Error, CustomStringConvertible {
    public let root: String
    public let cause: SpawnError

    public var description: String {
        "cannot run /bin/sh in the image mounted at \(root): \(Errno.message(cause.errno)) (\(Errno.name(cause.errno))); "
            + "commands run with /bin/sh -c, so the image needs a working /bin/sh for this architecture"
    }
}
