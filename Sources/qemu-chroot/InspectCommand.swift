import ArgumentParser
import NBDCore

// Placeholder until its issue lands; replaced by the real command.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "(not yet available)")
    func run() throws { throw ValidationError("inspect is not available in this build") }
}
