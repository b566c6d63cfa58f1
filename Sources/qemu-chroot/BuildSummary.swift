import Builder

/// The end of a build run, as Packer prints it: each build's artifact or error, plus where the time went.
enum BuildSummary {
    static func print(_ results: [BuildResult], output: BuildOutput) {
        let failed = results.filter { $0.error != nil }
        for result in results where !result.timings.isEmpty {
            let phases = result.timings.map { "\($0.step) \(format($0.seconds))" }.joined(separator: ", ")
            output.message("time: \(phases); total \(format(result.timings.reduce(0) { $0 + $1.seconds }))", target: result.name)
        }
        if !failed.isEmpty {
            output.machine(target: "", type: "error-count", [String(failed.count)])
            output.say("Some builds didn't complete successfully and had errors:", target: "")
            for result in failed {
                output.message("--> \(result.name): \(result.error!)", target: "")
                output.machine(target: result.name, type: "error", [String(describing: result.error!)])
            }
        }
        let artifacts = results.compactMap(\.artifact)
        guard !artifacts.isEmpty else { return }
        output.say("Builds finished. The artifacts of successful builds are:", target: "")
        output.machine(target: "", type: "artifact-count", [String(artifacts.count)])
        for artifact in artifacts {
            output.message("--> \(artifact.buildName): \(artifact.description)", target: "")
            for (key, value) in [("builder-id", Artifact.builderID), ("id", artifact.path), ("string", artifact.description),
                                 ("files-count", "1"), ("file", "0"), ("end", "")] {
                output.machine(target: artifact.buildName, type: "artifact", key == "file" ? ["0", key, "0", artifact.path] : ["0", key] + (value.isEmpty ? [] : [value]))
            }
        }
    }

    private static func format(_ seconds: Double) -> String {
        let hundredths = Int((seconds * 100).rounded())
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)s"
    }
}
