import ArgumentParser
import NBDCore

// Placeholder until its issue lands; replaced by the real command.
struct CleanupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cleanup", abstract: "(not yet available)")
    func run() throws { throw ValidationError("cleanup is not available in this build") }
}
