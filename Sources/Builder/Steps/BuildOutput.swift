import Glibc
import NBDCore
import Synchronization

/// Where a build talks to the user: `==> name: message` lines, or Packer's machine-readable lines
/// (`timestamp,target,type,data...`, commas as `%!(PACKER_COMMA)`, newlines as `\n`).
public final class BuildOutput: Sendable {
    public typealias Writer = @Sendable (String) -> Void
    public let machineReadable: Bool
    /// The output is a terminal: long phases show one updating progress line (`progress`).
    public let terminal: Bool
    private let sensitive = Mutex<[String]>([])
    /// Held while writing, so lines from builds running side by side stay whole and in order; knows
    /// whether a progress line is on screen, to erase it before the next line.
    private let sink: Mutex<Sink>

    private struct Sink {
        let write: Writer
        var progressShown = false
    }

    /// Values of `sensitive-variables`, shown as <sensitive> wherever they would appear (as Packer does).
    public var sensitiveValues: [String] {
        get { sensitive.withLock { $0 } }
        set { sensitive.withLock { $0 = newValue } }
    }

    public init(machineReadable: Bool = false, terminal: Bool = false, write: @escaping Writer = BuildOutput.standardOutput) {
        self.machineReadable = machineReadable
        self.terminal = terminal && !machineReadable
        self.sink = Mutex(Sink(write: write))
    }

    public static let standardOutput: Writer = { text in StandardStream.output(text) }
    /// For `build --json`, whose stdout carries only the JSON document.
    public static let standardError: Writer = { text in StandardStream.error(text) }

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
        sink.withLock { sink in
            sink.write((sink.progressShown ? Self.eraseLine : "") + masked + "\n")
            sink.progressShown = false
        }
    }

    /// How far long phase `phase` of build `target` is: on a terminal one line, rewritten in place; with
    /// -machine-readable a `progress` record (phase, percent, bytes done, bytes in all); otherwise nothing,
    /// the phase's "done in" line says it ended. Callers throttle (ProgressMeter).
    public func progress(_ phase: String, target: String, done: UInt64, total: UInt64, line: String) {
        if machineReadable {
            let percent = total == 0 ? 100 : Double(done) * 100 / Double(total)
            let rounded = (percent * 10).rounded() / 10
            machine(target: target, type: "progress", [phase, String(rounded), String(done), String(total)])
        } else if terminal {
            let text = target.isEmpty ? "    \(line)" : "    \(target): \(line)"
            sink.withLock { sink in
                sink.write(Self.eraseLine + text)
                sink.progressShown = true
            }
        }
    }

    /// Carriage return, then erase to the end of the line (ECMA-48 EL).
    static let eraseLine = "\r\u{1B}[K"

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
