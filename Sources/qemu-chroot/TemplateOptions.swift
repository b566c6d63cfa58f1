import ArgumentParser
import Glibc
import Builder
import NBDCore

/// The template flags `build` and `validate` share, spelled as Packer spells them (`-var k=v`,
/// `-var-file f`, `-only a,b`, `-except c`); the double-dash forms work too.
struct TemplateOptions: ParsableArguments {
    @Option(name: [.customLong("var", withSingleDash: true), .customLong("var")], help: "Set a template variable (name=value); repeatable.")
    var vars: [String] = []

    @Option(name: [.customLong("var-file", withSingleDash: true), .customLong("var-file")], help: "JSON file of variable values; repeatable.")
    var varFiles: [String] = []

    @Option(name: [.customLong("only", withSingleDash: true), .customLong("only")], help: "Build only these builders (comma-separated names).")
    var only: String?

    @Option(name: [.customLong("except", withSingleDash: true), .customLong("except")], help: "Build all builders but these (comma-separated names).")
    var except: String?

    @Argument(help: "The Packer JSON template.")
    var template: String

    /// Loads the template and checks everything; prints every problem and exits 1 if any.
    func plan() throws -> BuildPlan {
        do { return try loadPlan() } catch {
            printError(Self.problem(error))
            throw ExitCode(1)
        }
    }

    /// The plan, or the template's problems as thrown (`TemplateErrors`, or a `SystemError` for a file).
    func loadPlan() throws -> BuildPlan {
        var options = BuildPlan.Options()
        // Packer applies var-files first, then -var flags, whatever their order on the command line.
        options.overrides = try varFiles.flatMap(VariableValues.readFile) + vars.map(VariableValues.parseFlag)
        options.only = Self.names(only)
        options.except = Self.names(except)
        return try BuildPlan.make(try Template.load(path: template), options: options)
    }

    /// What `loadPlan` threw, as printed.
    static func problem(_ error: Error) -> String {
        error is TemplateErrors ? String(describing: error) : "error: \(error)"
    }

    private static func names(_ list: String?) -> [String] {
        (list ?? "").split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
    }
}

func printError(_ text: String) {
    StandardStream.error(text + "\n")
}
