import ArgumentParser
import NBDCore

// Placeholder until its issue lands; replaced by the real command.
struct SampleImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sample-image", abstract: "(not yet available)")
    func run() throws { throw ValidationError("sample-image is not available in this build") }
}
