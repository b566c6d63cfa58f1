import Glibc
import NBDCore
import Synchronization

/// The few things customize operations ask of an image, all through the provisioners' `Communicator`:
/// shell text run in the chroot (output into the build log), small files read and written whole.
struct ImageShell {
    let context: ProvisionerContext

    /// Runs `script` in the image (with `set -e` unless `exitOnError` is false: the user's own commands
    /// run as virt-customize runs them), its output into the build log; a non-zero exit is an error
    /// naming `operation`.
    func run(_ script: String, for operation: String, exitOnError: Bool = true) throws {
        let status = try ShellProvisioner.execute((exitOnError ? "set -e\n" : "") + script, context)
        guard status.isSuccess else { throw BuildError("\(operation): the command in the image ended with \(status)") }
    }

    /// Whether `test` (shell text) exits 0 in the image; its output is dropped.
    func holds(_ test: String) throws -> Bool {
        try context.communicator.run(RemoteCommand(test), cancellation: context.cancellation).isSuccess
    }

    /// What `script` prints on stdout in the image (a few lines), or nil when it fails.
    func output(_ script: String) throws -> String? {
        let collected = Collected()
        let status = try context.communicator.run(RemoteCommand(script, stdout: { collected.append($0) }), cancellation: context.cancellation)
        return status.isSuccess ? collected.text : nil
    }

    /// The text of `path` in the image, or nil when it does not exist.
    func read(_ path: String) throws -> String? {
        guard try holds("test -f \(ShellQuote.quote(path))") else { return nil }
        var bytes: [UInt8] = []
        try context.communicator.download(path) { bytes += $0 }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Replaces `path` with `text`; an existing file keeps its mode and owner unless `mode` is given.
    func write(_ path: String, _ text: String, mode: mode_t? = nil) throws {
        try context.communicator.upload(.bytes(Array(text.utf8)), to: path, mode: mode)
    }

    static func quote(_ text: String) -> String { ShellQuote.quote(text) }
}

/// Bytes from a command's stdout, gathered across the runner's threads.
private final class Collected: Sendable {
    private let bytes = Mutex<[UInt8]>([])
    var text: String { bytes.withLock { String(decoding: $0, as: UTF8.self) } }
    func append(_ chunk: ArraySlice<UInt8>) { bytes.withLock { $0 += chunk } }
}
