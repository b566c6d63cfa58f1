import Glibc
import NBDCore

/// Where a build talks to the user: `==> name: message` lines, or Packer's machine-readable lines
/// (`timestamp,target,type,data...`, commas as `%!(PACKER_COMMA)`, newlines as `\n`).
public final class BuildOutput: @unchecked Sendable {
    public let machineReadable: Bool
    /// Values of `sensitive-variables`, shown as <sensitive> wherever they would appear (as Packer does).
    public var sensitiveValues: [String] = []
    private let lock = Mutex()
    private let write: (String) -> Void

    public init(machineReadable: Bool = false, write: @escaping (String) -> Void = BuildOutput.standardOutput) {
        self.machineReadable = machineReadable
        self.write = write
    }

    public static let standardOutput: (String) -> Void = { text in
        _ = text.withCString { fputs($0, stdout) }
        fflush(stdout)
    }

    /// One line for the user about build `target` (empty: the run as a whole).
    public func say(_ message: String, target: String) {
        emit(human: target.isEmpty ? "==> \(message)" : "==> \(target): \(message)", target: target, type: "ui", ["say", message])
    }

    public func message(_ message: String, target: String) {
        emit(human: target.isEmpty ? "    \(message)" : "    \(target): \(message)", target: target, type: "ui", ["message", message])
    }

    public func error(_ message: String, target: String) {
        emit(human: target.isEmpty ? "==> Error: \(message)" : "==> \(target): Error: \(message)", target: target, type: "ui", ["error", message])
    }

    /// A machine-readable record with no human form (artifact, error-count...).
    public func machine(target: String, type: String, _ data: [String]) {
        guard machineReadable else { return }
        emit(human: nil, target: target, type: type, data)
    }

    private func emit(human: String?, target: String, type: String, _ data: [String]) {
        let line: String
        if machineReadable {
            let fields = [String(WallClock.seconds), target, type] + data.map(Self.escape)
            line = fields.joined(separator: ",")
        } else {
            guard let human else { return }
            line = human
        }
        let masked = sensitiveValues.filter { !$0.isEmpty }.reduce(line) { $0.replacingAll($1, with: "<sensitive>") }
        lock.withLock { write(masked + "\n") }
    }

    static func escape(_ field: String) -> String {
        field.replacingAll(",", with: "%!(PACKER_COMMA)").replacingAll("\r", with: "\\r").replacingAll("\n", with: "\\n")
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// The output of one build: `BuildOutput` with the build's name as the target.
public struct BuildLog: Sendable {
    public let output: BuildOutput
    public let target: String

    public func say(_ text: String) { output.say(text, target: target) }
    public func message(_ text: String) { output.message(text, target: target) }
    public func error(_ text: String) { output.error(text, target: target) }
    /// A decision worth explaining under `--debug`.
    public func debug(_ text: String) { Log.debug("\(target): \(text)") }
}
