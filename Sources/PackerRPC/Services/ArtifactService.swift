/// Serves a build's artifact on its own broker id (Packer and its post-processors call these).
enum ArtifactService {
    static func register(_ artifact: PluginArtifact, on server: RPCServer) {
        server.register("Artifact.BuilderId") { _ in .string(artifact.builderID) }
        server.register("Artifact.Id") { _ in .string(artifact.id) }
        server.register("Artifact.String") { _ in .string(artifact.summary) }
        server.register("Artifact.Files") { _ in .strings(artifact.files.isEmpty ? nil : artifact.files) }
        server.register("Artifact.State") { body in artifact.state(body.stringValue ?? "") }
        // Go's reply type is `error`: nil on success; a failure travels in the header only.
        server.register("Artifact.Destroy") { _ in try artifact.destroy(); return .nil }
    }
}
