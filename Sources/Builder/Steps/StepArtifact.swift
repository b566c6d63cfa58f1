import NBDCore
/// Describes the finished image: path, size and SHA-256; the build has succeeded once this ran.
final class StepArtifact: Step {
    let name = "artifact"
    /// Off for an image changed in place, which may be large and was never copied.
    private let checksum: Bool

    init(checksum: Bool = true) { self.checksum = checksum }

    func run(_ state: BuildState) throws {
        guard let path = state.outputPath else { throw BuildError("no output image was written") }
        let size = try FileTree.fileSize(path)
        var sha256 = ""
        if checksum {
            let meter = ProgressMeter("hashing", total: size, log: state.output)
            sha256 = try FileDigest.sha256(path) { meter.update(done: $0) }
            meter.finish()
        }
        state.artifact = Artifact(buildName: state.definition.name, path: path, format: state.config.format, size: size,
                                  sha256: sha256)
        state.succeeded = true
    }
}
