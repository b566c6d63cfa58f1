import Glibc
import HostSystem
import Synchronization

/// A qemu-nbd child serving one image on a unix socket in a private 0700 directory. It is listening when
/// `init` returns; its owner calls `stop()` (SIGTERM, wait while it flushes, SIGKILL after a grace, remove the
/// directory), which is idempotent; `deinit` only sends SIGTERM to a server nobody stopped. Its stderr goes to a file in the directory and is
/// quoted in errors.
public final class QemuNBDServer: Sendable {
    public let image: String
    public let options: QemuNBDOptions
    public let socketPath: String
    /// The private directory holding the socket and qemu-nbd's stderr.
    public let directory: String
    private let child: ChildProcess
    private let stopped = Atomic(false)

    public var pid: pid_t { child.pid }
    /// The export name to ask for, as passed to `--export-name`.
    public var exportName: String { options.exportName }

    public init(image: String, options: QemuNBDOptions) throws {
        try options.validate()
        let executable = try ExecutableLookup.resolve("qemu-nbd")
        let directory = try PrivateDirectory.make("qemu-nbd")
        let socketPath = "\(directory)/nbd.sock"
        let stderrPath = "\(directory)/qemu-nbd.stderr"
        do {
            guard socketPath.utf8.count < 108 else { throw QemuNBDError.socketPathTooLong(socketPath) }
            let stderrFile = try FileDescriptor.open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            var spawn = SpawnOptions()
            spawn.stderr = stderrFile.rawValue
            let arguments = ["--pid-file=\(directory)/qemu-nbd.pid"] + options.arguments(image: image, socket: socketPath)
            child = try ChildProcess.spawn(executable, arguments, options: spawn)
            try? stderrFile.close()
        } catch {
            QemuNBDServer.removeDirectory(directory)
            throw error
        }
        self.image = image
        self.options = options
        self.socketPath = socketPath
        self.directory = directory
        do {
            try waitUntilListening()
        } catch {
            child.terminate(grace: 1)
            QemuNBDServer.removeDirectory(directory)
            stopped.store(true, ordering: .releasing)
            throw error
        }
        Log.debug("qemu-nbd pid \(child.pid) serves \(image) on \(socketPath)")
    }

    /// Never blocks (stop() waits for qemu-nbd to flush): as a last resort SIGTERM makes it flush and exit.
    deinit {
        guard !stopped.load(ordering: .acquiring) else { return }
        Log.warning("qemu-nbd for \(image) was not stopped by its owner; sending it SIGTERM")
        child.signal(SIGTERM)
    }

    /// nil while qemu-nbd runs (or once `stop()` began); after it ended by itself, how and its stderr.
    public var failure: String? {
        guard !stopped.load(ordering: .acquiring), let status = child.poll() else { return nil }
        let text = stderrText.trimmingWhitespace()
        return "qemu-nbd (pid \(child.pid)) serving \(image) died while the image was in use (\(status)): "
            + (text.isEmpty ? "(no output)" : text)
    }

    /// What qemu-nbd has printed on stderr so far (the last 4 KiB).
    public var stderrText: String { QemuNBDServer.tail(of: "\(directory)/qemu-nbd.stderr") }

    /// SIGTERM, then wait up to `options.stopGrace` for qemu-nbd to flush and exit, then SIGKILL; removes the
    /// socket directory. Throws if it had to be killed, or if it had already ended with a failure (either way
    /// the image may lack writes). Safe to call again.
    public func stop() throws {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let earlier = child.poll()
        let start = Monotonic.now
        let status = child.terminate(grace: options.stopGrace)
        // SIGKILL before the grace ran out came from elsewhere: qemu-nbd died on its own.
        let escalated = earlier == nil && status == .signaled(SIGKILL) && Monotonic.now - start >= options.stopGrace
        let stderr = stderrText
        QemuNBDServer.removeDirectory(directory)
        if escalated { throw QemuNBDError.killedOnStop(image: image, status: status) }
        let ended = earlier ?? status
        if !ended.isSuccess && ended != .signaled(SIGTERM) {
            throw QemuNBDError.endedEarly(image: image, status: ended, stderr: stderr)
        }
    }

    /// Ready when qemu-nbd has written its pid file and the kernel lists our socket as listening in
    /// /proc/net/unix. qemu-nbd 7.2 listens *before* opening the image and writes the pid file after, so
    /// the socket alone would report a server that is about to fail. Connecting to test it would be wrong
    /// too: a non-persistent qemu-nbd exits when that probe client leaves.
    private func waitUntilListening() throws {
        let listening = try Poll.until(seconds: options.startTimeout, interval: 0.005) {
            if let status = child.poll() {
                throw QemuNBDError.exitedBeforeListening(image: image, status: status, stderr: stderrText)
            }
            return wrotePidFile() && QemuNBDServer.isListening(socketPath)
        }
        if !listening {
            throw QemuNBDError.notListening(image: image, seconds: options.startTimeout, stderr: stderrText)
        }
    }

    private func wrotePidFile() -> Bool {
        QemuNBDServer.tail(of: "\(directory)/qemu-nbd.pid").trimmingWhitespace() == String(child.pid)
    }

    /// /proc/net/unix rows: "Num RefCount Protocol Flags Type St Inode Path"; Flags 0x10000 is __SO_ACCEPTCON,
    /// set once listen(2) has run.
    static func isListening(_ path: String) -> Bool {
        guard let table = try? FileDescriptor.open("/proc/net/unix", O_RDONLY) else { return false }
        var text: [UInt8] = []
        while let chunk = try? table.read(count: 1 << 20), !chunk.isEmpty { text += chunk }
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") where line.hasSuffix(" " + path) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 8, let flags = UInt32(fields[3], radix: 16), flags & 0x10000 != 0 { return true }
        }
        return false
    }


    /// Only the files we put there, then the directory itself: nothing else could be inside a 0700
    /// directory we created, and a plain rmdir never follows anything.
    private static func removeDirectory(_ directory: String) {
        unlink("\(directory)/nbd.sock")
        unlink("\(directory)/qemu-nbd.stderr")
        unlink("\(directory)/qemu-nbd.pid")
        rmdir(directory)
    }

    private static func tail(of path: String) -> String {
        guard let file = try? FileDescriptor.open(path, O_RDONLY) else { return "" }
        let size = lseek(file.rawValue, 0, SEEK_END)
        let start = max(0, size - 4096)
        var buffer = [UInt8](repeating: 0, count: Int(size - start))
        let got = (try? buffer.withUnsafeMutableBytes { try file.pread(into: $0, at: UInt64(start)) }) ?? 0
        return String(decoding: buffer.prefix(got), as: UTF8.self)
    }
}
