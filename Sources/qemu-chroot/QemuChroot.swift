import ArgumentParser
import NBDCore

@main
struct QemuChroot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qemu-chroot",
        abstract: "Provision QEMU disk images in a chroot, without booting them.",
        subcommands: [
            BuildCommand.self, ValidateCommand.self, InspectCommand.self, ShellCommand.self,
            SampleImageCommand.self, DoctorCommand.self, CleanupCommand.self,
            CustomizeCommand.self, SysprepCommand.self,
        ]
    )
}

/// Options every subcommand shares.
struct GlobalOptions: ParsableArguments {
    @Flag(name: .long, help: "Explain every decision on stderr.")
    var debug = false

    /// Installs the CLI's stderr format (`qemu-chroot: warning: …`) for every library message.
    func apply() {
        Log.logger = QemuChrootLogHandler.logger(level: debug ? .debug : .info)
    }
}
