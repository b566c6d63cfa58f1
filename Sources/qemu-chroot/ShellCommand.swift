import ArgumentParser
import Glibc
import NBDCore

/// `qemu-chroot shell IMAGE [-- CMD ARGS...]`: attach, mount, run one command (or an interactive shell) in
/// the chroot, then flush, unmount and detach. Writes go to IMAGE itself unless --read-only.
struct ShellCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "Run a command (or an interactive shell) chrooted into an image's root filesystem.",
        discussion: """
            The image is attached (qcow2 or raw, see --attach), its root filesystem mounted in a private \
            mount namespace with /proc, /sys, /dev, /dev/pts and binfmt_misc, and CMD runs there with \
            /bin/sh -c. Without CMD an interactive /bin/sh -i runs on the terminal. Changes are written \
            to IMAGE. The exit status is CMD's (128+N if it was killed by signal N).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The disk image (qcow2 or raw).")
    var image: String

    @Option(name: .long, help: "Partition number to mount as root (0 = the whole disk). Default: the root rule (docs/shell.md).")
    var partition: Int?

    @OptionGroup var tree: FilesystemTreeFlags

    @Option(name: .long, help: "How to attach: auto, nbd, nbd-ioctl, fuse or loop.")
    var attach: AttachMode = .auto

    @Option(name: .customLong("qemu-binary"), help: "The user-mode emulator for an image of another architecture (default: qemu-<arch>-static in PATH).")
    var qemuBinary: String?

    @Flag(name: .customLong("no-host-binfmt"), help: "On a kernel without a private binfmt_misc (Linux < 6.7), stop instead of registering the emulator in the host's binfmt_misc for the run.")
    var noHostBinfmt = false

    @Option(name: .customLong("mount-option"), help: "A mount option for the root filesystem (repeatable), e.g. noatime.")
    var mountOptions: [String] = []

    @Flag(name: .long, help: "Attach and mount read-only.")
    var readOnly = false

    @Flag(name: .customLong("allow-backing-file"), help: "Let IMAGE name backing files (or an external data file); qemu reads them.")
    var allowBackingFile = false

    @Flag(name: .long, help: "Strict isolation: a minimal private /dev, read-only /sys, fewer capabilities, own host name (docs/security.md).")
    var strict = false

    @Flag(name: .customLong("no-network"), help: "Run the command in an empty network namespace (loopback only).")
    var noNetwork = false

    @Flag(name: .long, help: "Print how long each phase took on stderr.")
    var timings = false

    @Argument(parsing: .postTerminator, help: "The command and its arguments (after --).")
    var command: [String] = []

    func run() throws {
        global.apply()
        try MountNamespace.enterPrivate()
        let cancellation = Cancellation()
        SignalCancellation.install(cancellation)
        var clock = PhaseTimings()
        let status: ExitStatus
        do {
            status = try ShellRun(command: self, cancellation: cancellation).perform(&clock)
        } catch let error as CancelledError {
            Log.error("\(error); everything was released")
            throw ExitCode(130)
        }
        let summary = clock.summary(excluding: "command")
        if timings { Log.info("timings: \(summary)") } else { Log.debug("timings: \(summary)") }
        if cancellation.isCancelled && status.isSuccess { throw ExitCode(130) }
        if !status.isSuccess { throw ExitCode(status.shellCode) }
    }
}

extension AttachMode: ExpressibleByArgument {}

/// One `shell` run: the image goes through `MountedImage`, whose `release()` undoes everything, on success,
/// failure or signal.
private struct ShellRun {
    let command: ShellCommand
    let cancellation: Cancellation

    func perform(_ clock: inout PhaseTimings) throws -> ExitStatus {
        let chain = try clock.measure("probe") { try BackingChain.read(command.image, allowOtherFiles: command.allowBackingFile) }
        if !chain.otherFiles.isEmpty { Log.info("--allow-backing-file: the disk also reads \(chain.otherFiles.joined(separator: ", "))") }
        let info = chain.source
        try checkCancelled()
        let ledger = RunLedger.startOrWarn()
        defer { ledger?.finish() }
        let request = AttachRequest(image: command.image, format: info.format, readOnly: command.readOnly,
                                    mode: command.attach)
        let image = try clock.measure("attach") { try MountedImage(attaching: request, ledger: ledger) }
        var result: Result<ExitStatus, Error>
        do {
            result = .success(try mountAndRun(image, clock: &clock))
        } catch {
            result = .failure(error)
        }
        do {
            try clock.measure("detach") { try image.release() }
        } catch {
            if case .success = result { result = .failure(error) } else { Log.error("\(error)") }
        }
        return try result.get()
    }

    private func mountAndRun(_ image: MountedImage, clock: inout PhaseTimings) throws -> ExitStatus {
        try checkCancelled()
        let root = try clock.measure("layout") { () throws -> MountPlan.ImageFilesystem in
            try image.readLayout().warnings.forEach { Log.warning($0) }
            let plan = try image.planMounts(mountPartition: command.partition, rootOptions: command.mountOptions,
                                            tree: command.tree.options,
                                            isolation: ChrootIsolation(strict: command.strict, network: !command.noNetwork))
            Log.info(plan.rootChoice.explanation)
            return plan.root
        }
        try checkCancelled()
        let mountPath = "/run/qemu-chroot/mnt/\(image.ledger?.runID ?? String(getpid()))"
        Log.debug("mounting \(root.volume) (\(root.fstype)) from \(root.device) at \(mountPath)")
        let session = try clock.measure("mount") {
            try image.mount(at: mountPath, ownsMountPath: true, qemuBinary: command.qemuBinary, hostBinfmt: !command.noHostBinfmt)
        }
        if let emulation = session.emulation {
            if emulation.handler != nil { Log.info("\(emulation)") } else { Log.debug("\(emulation)") }
        }
        for message in image.mountMessages {
            switch message.level {
            case .warning: Log.warning(message.text)
            case .info: Log.info(message.text)
            }
        }
        var result: Result<ExitStatus, Error>
        do {
            try checkCancelled()
            result = .success(try clock.measure("command") { try runCommand(in: session) })
        } catch {
            result = .failure(error)
        }
        // The command's status and errors mean nothing once the disk's server is gone: say that instead.
        if let failure = image.attached.serverFailure {
            if case .failure(let error) = result { Log.error("\(error)") }
            result = .failure(AttachError(failure))
        }
        do { try clock.measure("unmount") { try image.unmount() } } catch {
            if case .success = result { result = .failure(error) } else { Log.error("\(error)") }
        }
        return try result.get()
    }

    private func runCommand(in session: ChrootSession) throws -> ExitStatus {
        let line = command.command.isEmpty ? "exec /bin/sh -i" : ShellQuote.join(command.command)
        let terminal = TerminalForeground(fd: STDIN_FILENO)
        defer { terminal.reclaim() }
        return try session.run(line, stdin: STDIN_FILENO, stdout: .descriptor(STDOUT_FILENO),
                               stderr: .descriptor(STDERR_FILENO), cancellation: cancellation,
                               onStart: { terminal.hand(to: $0) })
    }

    private func checkCancelled() throws {
        if cancellation.isCancelled { throw CancelledError(cancellation.cancelReason) }
    }
}
