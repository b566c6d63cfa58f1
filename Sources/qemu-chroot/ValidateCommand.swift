import ArgumentParser
import Builder
import NBDCore

/// `qemu-chroot validate TEMPLATE.json`: every problem at once, exit 0 or 1, like `packer validate`.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a Packer JSON template without building (exit 0 when valid, 1 otherwise).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var template: TemplateOptions

    func run() throws {
        global.apply()
        let plan = try template.plan()
        print("Template validated successfully (\(plan.builds.count) build\(plan.builds.count == 1 ? "" : "s"): \(plan.builds.map(\.name).joined(separator: ", "))).")
    }
}
