import ArgumentParser
import NBDCore

/// What this host can do, one line per capability, and the attach mode `auto` would pick.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check what this host offers for attaching, mounting and chrooting images.",
        discussion: "Exits 0 when at least one attach mode works here.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        global.apply()
        for check in HostCheck.all() { print(check.line) }

        var usable = false
        for format in [ImageFormat.qcow2, .raw] {
            let request = AttachRequest(image: "a \(format.rawValue) image", format: format)
            do {
                let choice = try Attacher.choose(for: request)
                usable = true
                print("ok    attach auto (\(format.rawValue)): \(choice.backend.mode.rawValue) — \(choice.reason)")
            } catch {
                var text = "\(error)"
                if text.hasSuffix(Attacher.doctorHint) { text.removeLast(Attacher.doctorHint.count) }
                print("no    attach auto (\(format.rawValue)): \(text)")
            }
        }
        if !usable { throw ExitCode.failure }
    }
}
