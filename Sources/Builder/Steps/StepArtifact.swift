import NBDCore
/// Describes the finished image: path, size and SHA-256; the build has succeeded once this ran.
final class StepArtifact: Step {
    let name = "artifact"

    func run(_ state: BuildState) throws {
        guard let path = state.outputPath else { throw BuildError("no output image was written") }
        let artifact = Artifact(buildName: state.definition.name, path: path, size: try FileTree.fileSize(path),
                                sha256: try FileDigest.sha256(path))
        state.artifact = artifact
        state.succeeded = true
    }
}
