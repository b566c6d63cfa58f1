import ArgumentParser
import Builder
import Glibc
import NBDCore

/// The options `customize` and `sysprep` share: which image, where the result goes, how to run. Values
/// are strings checked by `request`, so a bad one is one line naming the flag, not a usage screen.
struct CustomizeTarget: ParsableArguments {
    @Option(name: .customShort("a"), help: ArgumentHelp("The disk image (qcow2 or raw). Changed in place unless -o is given.", valueName: "image"))
    var image: String?

    @Option(name: .customShort("o"), help: ArgumentHelp("Write the result here instead; the input is never written, the output is complete or absent.", valueName: "output"))
    var output: String?

    @Option(name: .long, help: "Output format with -o: qcow2 or raw (default: the input's).")
    var format: String?

    @Flag(name: .long, help: "Compress the qcow2 output (with -o).")
    var compress = false

    @Flag(name: .long, help: "Replace an existing -o OUTPUT.")
    var force = false

    @Option(name: .long, help: "How to attach: auto, nbd, nbd-ioctl, fuse or loop.")
    var attach = "auto"

    @Flag(name: .customLong("allow-backing-file"), help: "Let the image name backing files (or an external data file); qemu reads them.")
    var allowBackingFile = false

    @Flag(name: .customLong("dry-run"), help: "Print the plan and exit; nothing is attached.")
    var dryRun = false

    @Flag(name: .long, help: "Print the result as JSON on stdout (progress goes to stderr).")
    var json = false

    func request(_ operations: [CustomizeOperation], name: String) throws -> Customize.Request {
        guard let image else { throw CustomizeArgumentError("-a", "the image to change (-a IMAGE)") }
        var request = Customize.Request(image: image, output: output, operations: operations)
        if let format {
            guard let parsed = ImageFormat(rawValue: format) else { throw CustomizeArgumentError("--format", "qcow2 or raw", got: format) }
            request.format = parsed
        }
        request.compress = compress
        request.force = force
        request.attach = attach
        request.allowBackingFile = allowBackingFile
        request.name = name
        try Customize.check(request)
        return request
    }
}

/// One `customize` or `sysprep` run from the CLI: the plan or the run, its result as lines or JSON.
enum CustomizeRun {
    /// A bad argument, before anything is attached: exit 2 as `build` exits for an invalid template; one
    /// line on stderr, or with --json the document (no builds, the error) on stdout.
    static func refuse(_ command: String, _ error: Error, json: Bool) -> ExitCode {
        let exit = BuildExit.invalidTemplate
        if json {
            StandardStream.output(JSONValue.object(BuildReport.fields([], exit: exit, error: "\(error)")
                + [("command", .string(command))]).rendered(htmlSafe: false) + "\n")
        } else {
            StandardStream.error("qemu-chroot \(command): \(error)\n")
        }
        return ExitCode(exit.rawValue)
    }

    static func perform(_ request: Customize.Request, target: CustomizeTarget, secrets: [String],
                        randomPasswords: [(user: String, password: String)]) throws {
        if target.dryRun {
            let lines = Customize.plan(request)
            if target.json {
                StandardStream.output(JSONValue.object(BuildReport.fields([], exit: .success) + [
                    ("command", .string(request.name)), ("dry_run", .bool(true)),
                    ("plan", .array(lines.map(JSONValue.string))),
                    ("operations", operations(request)),
                ]).rendered(htmlSafe: false) + "\n")
            } else {
                StandardStream.output(lines.joined(separator: "\n") + "\n")
            }
            return
        }
        // First, while the process has one thread: the mounts are invisible to the host and vanish with it.
        try MountNamespace.enterPrivate()
        let cancellation = Cancellation()
        SignalCancellation.install(cancellation)
        let toStderr: BuildOutput.Writer = { text in StandardStream.error(text) }
        let output = BuildOutput(write: target.json ? toStderr : BuildOutput.standardOutput)
        output.sensitiveValues = secrets
        let result = Customize.run(request, output: output, cancellation: cancellation)
        let exit = BuildExit.of([result], cancelled: cancellation.isCancelled)
        if target.json {
            StandardStream.output(json(result, request, randomPasswords, exit: exit).rendered(htmlSafe: false) + "\n")
        } else {
            BuildSummary.print([result], output: output)
            if result.error == nil {
                // The one place a random password is shown, as virt-customize shows it.
                for entry in randomPasswords { StandardStream.output("random password for \(entry.user): \(entry.password)\n") }
            }
        }
        if exit != .success { throw ExitCode(exit.rawValue) }
    }

    private static func operations(_ request: Customize.Request) -> JSONValue {
        .array(request.operations.map { .object([("flag", .string($0.flag)), ("argument", .string($0.argument))]) })
    }

    /// `build --json`'s document (BuildReport: exit_code, outcome, builds with artifact, phases, error),
    /// then what only customize has.
    private static func json(_ result: BuildResult, _ request: Customize.Request,
                             _ randomPasswords: [(user: String, password: String)], exit: BuildExit) -> JSONValue {
        .object(BuildReport.fields([result], exit: exit) + [
            ("command", .string(request.name)),
            ("image", .string(HostPath.absolute(request.image))),
            ("output", request.output.map { .string(HostPath.absolute($0)) } ?? .null),
            ("in_place", .bool(request.output == nil)),
            ("operations", operations(request)),
            ("random_passwords", .array(result.error == nil ? randomPasswords.map { .object([("user", .string($0.user)), ("password", .string($0.password))]) } : [])),
        ])
    }
}
