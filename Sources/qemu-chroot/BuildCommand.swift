import ArgumentParser
import Builder
import Glibc
import NBDCore

/// `qemu-chroot build [flags] TEMPLATE.json`: runs the template's builds; exit 1 if any fails.
struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build images from a Packer JSON template (qemu-chroot builders), without booting them.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var template: TemplateOptions

    @Flag(name: [.customLong("force", withSingleDash: true), .customLong("force")],
          help: "Replace existing output directories.")
    var force = false

    @Flag(name: [.customLong("machine-readable", withSingleDash: true), .customLong("machine-readable")],
          help: "Packer-style machine-readable output (timestamp,target,type,data...).")
    var machineReadable = false

    @Option(name: [.customLong("parallel-builds", withSingleDash: true), .customLong("parallel-builds")],
            help: "How many builds run at once; 0 (default) runs them all in parallel.")
    var parallelBuilds = 0

    func run() throws {
        // First, while the process has one thread: mounts made from here on are invisible to the host and
        // vanish with the process, whatever happens to it.
        try MountNamespace.enterPrivate()
        global.apply()
        let plan = try template.plan()
        let cancellation = Cancellation()
        SignalCancellation.install(cancellation)
        let output = BuildOutput(machineReadable: machineReadable)
        output.sensitiveValues = plan.sensitiveValues
        var options = Build.Options()
        options.force = force
        options.parallelBuilds = parallelBuilds
        let results = Build.run(plan, options: options, output: output, cancellation: cancellation)
        BuildSummary.print(results, output: output)
        if results.contains(where: { $0.error != nil }) || results.isEmpty { throw ExitCode(1) }
    }
}
