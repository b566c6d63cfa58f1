import Glibc
import HostSystem
import Synchronization

/// An image exported as a raw file over FUSE by `qemu-storage-daemon`, for hosts without the nbd driver.
/// The daemon is our direct child (PR_SET_PDEATHSIG, own process group so a terminal ^C reaches us, not it,
/// and we unmount before it goes); the FUSE file sits alone in a private 0700 directory.
public final class QemuStorageDaemonExport: Sendable {
    /// Export directories are named so, which tells `cleanup` which files it may remove in them.
    public static let directoryPrefix = "export-"

    public let image: String
    /// The regular file the export is mounted on; reads and writes go to the image's virtual disk.
    public let path: String
    public let directory: String
    public let readOnly: Bool
    /// The virtual size of the disk, as the FUSE file reports it.
    public let size: UInt64
    private let daemon: ChildProcess
    private let ledger: RunLedger?
    private let ledgerEntries: [Int]
    private let stopped = Atomic(false)

    /// Starts the daemon and waits until the export is mounted. `driver` is qemu's format driver ("qcow2",
    /// "raw"); `directory` is created (0700) and must not exist; `expectedSize`, if given, is checked.
    /// `flushes: false` turns the guest's flushes into no-ops on the image file (for a scratch image).
    public init(image: String, driver: String, readOnly: Bool, flushes: Bool = true, directory: String,
                expectedSize: UInt64? = nil, ledger: RunLedger? = nil, timeout: Double = 15) throws {
        self.image = image
        self.directory = directory
        self.path = "\(directory)/disk"
        self.readOnly = readOnly
        self.ledger = ledger
        var entries: [Int] = []
        func intend(_ resource: LedgerResource) throws -> Int? {
            let entry = try ledger?.intend(resource)
            if let entry { entries.append(entry) }
            return entry
        }
        // Undone in reverse if anything below fails.
        let undo = Teardown()

        do {
            let dirEntry = try intend(.directory(path: directory))
            try syscall("mkdir", path: directory) { mkdir(directory, 0o700) }
            undo.add("remove \(directory)") { [path] in unlink(path); unlink("\(directory)/daemon.log"); rmdir(directory) }
            if let dirEntry { try ledger?.held(dirEntry, .directory(path: directory)) }

            let mountpoint = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            try mountpoint.close()
            let log = try FileDescriptor.open("\(directory)/daemon.log", O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            defer { try? log.close() }

            let arguments = Self.arguments(image: image, driver: driver, readOnly: readOnly, flushes: flushes, mountpoint: path)
            let childEntry = try intend(.child(command: "qemu-storage-daemon", pid: nil, startTime: nil))
            let fuseEntry = try intend(.fuseMount(path: path))
            var options = SpawnOptions()
            options.stderr = log.rawValue
            options.stdout = log.rawValue
            options.newProcessGroup = true
            let daemon = try ChildProcess.spawn("qemu-storage-daemon", arguments, options: options)
            undo.add("stop qemu-storage-daemon") { [path] in
                daemon.terminate(grace: 10, resendEvery: Self.stopSignalInterval)
                Self.unmountIfMounted(path)
            }
            if let childEntry {
                try ledger?.held(childEntry, .child(command: "qemu-storage-daemon", pid: daemon.pid,
                                                    startTime: ProcFS.startTime(of: daemon.pid)))
            }
            self.daemon = daemon
            Log.debug("qemu-storage-daemon \(arguments.joined(separator: " "))")

            size = try Self.waitForMount(path: path, directory: directory, daemon: daemon, timeout: timeout)
            Self.raisePriority(of: daemon)
            if let fuseEntry { try ledger?.held(fuseEntry, .fuseMount(path: path)) }
            if let expectedSize, expectedSize != size {
                throw AttachError("qemu-storage-daemon exports \(image) as \(size) bytes, but its header says "
                    + "\(expectedSize)")
            }
        } catch {
            try? undo.run()
            for entry in entries.reversed() { try? ledger?.released(entry) }
            throw error
        }
        ledgerEntries = entries
    }

    /// qemu option syntax: a value ends at ',' and ',,' stands for a literal comma.
    static func escaped(_ value: String) -> String { value.replacingOccurrences(",", ",,") }

    static func arguments(image: String, driver: String, readOnly: Bool, flushes: Bool = true,
                          mountpoint: String) -> [String] {
        let readOnlyFlag = readOnly ? "on" : "off"
        // Every journal commit in the image is a flush that reached the host's disk (fdatasync of the image
        // file); for a scratch image that is read back from the page cache and deleted, it is waste.
        return [
            "--blockdev", "driver=file,node-name=file0,filename=\(escaped(image)),read-only=\(readOnlyFlag),"
                + "discard=unmap" + (flushes ? "" : ",cache.no-flush=on"),
            "--blockdev", "driver=\(driver),node-name=disk0,file=file0,read-only=\(readOnlyFlag),discard=unmap",
            "--export", "type=fuse,id=export0,node-name=disk0,mountpoint=\(escaped(mountpoint)),"
                + "writable=\(readOnly ? "off" : "on"),allow-other=off",
        ]
    }

    /// Every write to the mounted image is a FUSE round trip to the daemon (qemu's export asks for no
    /// writeback cache), and the daemon needs little CPU but must be scheduled for each one: at normal
    /// priority on a busy host a 256 MiB fsync'd write took 3x as long as with the daemon at -10
    /// (docs/attach.md). So, like the kernel's own loop workers, it runs ahead of ordinary work. Its
    /// threads exist once the export is mounted; those it starts later inherit the value.
    public static let daemonNice: Int32 = -10

    private static func raisePriority(of daemon: ChildProcess) {
        do { try daemon.setNice(daemonNice) } catch {
            Log.debug("qemu-storage-daemon keeps its normal priority (\(error)); writes may be slower on a busy host")
        }
    }

    /// The export is up once the file lives on another device than its directory (the FUSE mount).
    private static func waitForMount(path: String, directory: String, daemon: ChildProcess,
                                     timeout: Double) throws -> UInt64 {
        var size: UInt64?
        try Poll.until(seconds: timeout, interval: 0.005) {
            var file = stat()
            var dir = stat()
            if stat(path, &file) == 0, stat(directory, &dir) == 0, file.st_dev != dir.st_dev {
                size = UInt64(file.st_size)
                return true
            }
            if let status = daemon.poll() {
                throw AttachError("qemu-storage-daemon could not export the image (\(status)): "
                    + daemonLog(directory))
            }
            return false
        }
        guard let size else {
            throw AttachError("qemu-storage-daemon did not mount its FUSE export \(path) within "
                + "\(Int(timeout)) s; is /dev/fuse usable here? \(daemonLog(directory))")
        }
        return size
    }

    private static func daemonLog(_ directory: String) -> String {
        let text = (ProcFS.readText("\(directory)/daemon.log", limit: 4096) ?? "").trimmingWhitespace()
        return text.isEmpty ? "(no output)" : text
    }

    /// Seconds `stop()` gives the daemon to flush and exit after SIGTERM.
    static let stopGrace = 60.0
    /// Seconds between SIGTERMs while `stop()` waits. qemu-storage-daemon (7.2 and later alike) can absorb a
    /// SIGTERM and sleep on: its handler only sets `exit_requested`, which the main loop tests before it blocks
    /// in ppoll without a timeout, and nothing wakes that ppoll once our last FUSE request is answered. A
    /// SIGTERM delivered between the test and the ppoll (most likely right after we close the export file,
    /// while the daemon still handles that FUSE_RELEASE, and more so on a loaded host) was lost, and the
    /// release waited the whole grace for nothing (about one build in 60 at load 16). The next SIGTERM
    /// interrupts the ppoll and the daemon exits at once; a repeated one is harmless.
    static let stopSignalInterval = 0.2

    /// nil while the daemon runs (or once `stop()` began); after it ended by itself, how and its log.
    public var failure: String? {
        guard !stopped.load(ordering: .acquiring), let status = daemon.poll() else { return nil }
        return "qemu-storage-daemon (pid \(daemon.pid)) serving \(image) died while the image was in use (\(status)): "
            + Self.daemonLog(directory)
    }

    /// Stops the daemon (SIGTERM: it flushes the image and unmounts), makes sure the FUSE mount is gone,
    /// removes the directory. Idempotent; every step runs and the first error is thrown.
    public func stop() throws {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var errors = Teardown.Errors()
        errors.attempt("stop qemu-storage-daemon for \(image)") {
            // A daemon that outlives the whole grace although SIGTERM kept coming is stuck for another reason;
            // where its threads wait is the clue, so it is said before SIGKILL destroys it.
            if daemon.poll() == nil {
                let start = Monotonic.now
                let interval = Self.stopSignalInterval
                // One interval first: if that SIGTERM did not end it, how its threads wait then tells an absorbed
                // signal (main thread asleep in poll, nothing pending) from a slow flush.
                let exitedAtOnce = daemon.signalRepeatedly(SIGTERM, every: interval, for: interval) != nil
                let after = exitedAtOnce ? "" : "; \(interval) s after the first its threads were (tid state wchan) "
                    + ProcFS.kernelWaits(of: daemon.pid) + ", signals pending " + Self.pendingSignals(of: daemon.pid)
                if exitedAtOnce || daemon.signalRepeatedly(SIGTERM, every: interval, for: Self.stopGrace - interval) != nil {
                    let seconds = Monotonic.now - start
                    Log.debug("qemu-storage-daemon for \(image) exited \(Int(seconds * 1000)) ms after SIGTERM "
                        + "(\(Int(seconds / interval) + 1) sent)" + after)
                } else {
                    Log.warning("qemu-storage-daemon (pid \(daemon.pid)) for \(image) did not exit within "
                        + "\(Int(Self.stopGrace)) s of SIGTERM (sent every \(Self.stopSignalInterval) s); killing it. "
                        + "Its threads (tid state wchan): " + ProcFS.kernelWaits(of: daemon.pid))
                }
            }
            let status = daemon.terminate(grace: 0)
            if status != .exited(0) && status != .signaled(SIGTERM) {
                throw AttachError("qemu-storage-daemon for \(image) ended with \(status): " + Self.daemonLog(directory))
            }
        }
        Self.unmountIfMounted(path)
        unlink(path)
        unlink("\(directory)/daemon.log")
        errors.attempt("rmdir \(directory)") {
            if rmdir(directory) != 0 && errno != ENOENT { throw SystemError("rmdir", path: directory, errno: errno) }
        }
        for entry in ledgerEntries.reversed() { try? ledger?.released(entry) }
        try errors.rethrow()
    }

    /// The process's shared pending signals (ShdPnd of /proc/PID/status, a hex mask; bit 14 is SIGTERM).
    private static func pendingSignals(of pid: pid_t) -> String {
        let status = ProcFS.readText("/proc/\(pid)/status") ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("ShdPnd:") }
        return line.map { String($0.dropFirst("ShdPnd:".count)).trimmingWhitespace() } ?? "?"
    }

    /// A daemon killed hard leaves its FUSE mount behind ("Transport endpoint is not connected").
    static func unmountIfMounted(_ path: String) {
        guard ProcFS.mountPoints().contains(path) else { return }
        if umount2(path, 0) != 0 {
            Log.warning("\(path) is busy; detaching its FUSE mount lazily")
            umount2(path, Int32(MNT_DETACH))
        }
    }

    /// Never blocks (stop() may wait a minute for the daemon to flush): the owner stops it. As a last
    /// resort SIGTERM makes the daemon flush and unmount by itself.
    deinit {
        guard !stopped.load(ordering: .acquiring) else { return }
        Log.warning("qemu-storage-daemon for \(image) was not stopped by its owner; sending it SIGTERM")
        daemon.signal(SIGTERM)
    }
}

extension String {
    func replacingOccurrences(_ target: Character, _ replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
