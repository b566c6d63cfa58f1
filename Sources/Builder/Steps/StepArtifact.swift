import NBDCore
/// Describes the finished image: path, size and SHA-256; the build has succeeded once this ran.
final class StepArtifact: Step {
    let name = "artifact"
    /// Off for an image changed in place, which may be large and was never copied.
    private let checksum: Bool

    init(checksum: Bool = true) { self.checksum = checksum }

    func run(_ state: BuildState) throws {
        guard let path = state.outputPath else { throw BuildError("no output image was written") }
        let artifact = Artifact(buildName: state.definition.name, path: path, size: try FileTree.fileSize(path),
                                sha256: checksum ? try FileDigest.sha256(path) : "")
        state.artifact = artifact
        state.succeeded = true
    }
}
