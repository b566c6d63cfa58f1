import ArgumentParser
import NBDCore

// Placeholder until its issue lands; replaced by the real command.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: "(not yet available)")
    func run() throws { throw ValidationError("doctor is not available in this build") }
}
