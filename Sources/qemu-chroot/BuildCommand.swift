import ArgumentParser
import Builder
import Glibc
import NBDCore

/// `qemu-chroot build [flags] TEMPLATE.json`: runs the template's builds; the exit status says how the run
/// ended (BuildExit).
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

    @Flag(name: [.customLong("json", withSingleDash: true), .customLong("json")],
          help: "Print one JSON document on stdout at the end (artifacts, phases, errors); progress and messages go to stderr.")
    var json = false

    @Option(name: [.customLong("parallel-builds", withSingleDash: true), .customLong("parallel-builds")],
            help: "How many builds run at once; 0 (default) runs them all in parallel.")
    var parallelBuilds = 0

    func run() throws {
        // First, while the process has one thread: mounts made from here on are invisible to the host and
        // vanish with the process, whatever happens to it.
        do { try MountNamespace.enterPrivate() } catch {
            try finish([], exit: BuildExit.isHostRequirement(error) ? .hostLacksRequirement : .buildFailed,
                       error: "\(error)" + (geteuid() != 0 ? " (building needs root)" : ""))
        }
        global.apply()
        let plan: BuildPlan
        do { plan = try template.loadPlan() } catch {
            try finish([], exit: .invalidTemplate, error: TemplateOptions.problem(error))
        }
        let cancellation = Cancellation()
        SignalCancellation.install(cancellation)
        let humanFD = json ? STDERR_FILENO : STDOUT_FILENO
        let output = BuildOutput(machineReadable: machineReadable, terminal: isatty(humanFD) == 1,
                                 write: json ? BuildOutput.standardError : BuildOutput.standardOutput)
        output.sensitiveValues = plan.sensitiveValues
        var options = Build.Options()
        options.force = force
        options.parallelBuilds = parallelBuilds
        let results = Build.run(plan, options: options, output: output, cancellation: cancellation)
        BuildSummary.print(results, output: output)
        try finish(results, exit: BuildExit.of(results, cancelled: cancellation.isCancelled))
    }

    /// Ends the run with `exit`: the JSON document first with --json, the error on stderr otherwise.
    private func finish(_ results: [BuildResult], exit: BuildExit, error: String? = nil) throws -> Never {
        if json {
            StandardStream.output(BuildReport.json(results, exit: exit, error: error).rendered(htmlSafe: false) + "\n")
        }
        if let error { printError(error) }
        throw ExitCode(exit.rawValue)
    }
}
