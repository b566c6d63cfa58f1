import ArgumentParser
import NBDCore

// Placeholder until its issue lands; replaced by the real command.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate", abstract: "(not yet available)")
    func run() throws { throw ValidationError("validate is not available in this build") }
}
