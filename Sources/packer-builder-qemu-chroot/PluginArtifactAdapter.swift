import PackerRPC
import Builder
import Glibc
import NBDCore

/// The Builder library's artifact (the output image) as Packer's Artifact service sees it.
final class ImageArtifact: PluginArtifact {
    private let artifact: Artifact
    private let generatedData: [String: String]

    init(_ artifact: Artifact, generatedData: [String: String]) {
        self.artifact = artifact
        self.generatedData = generatedData
    }

    var builderID: String { Artifact.builderID }
    var id: String { artifact.path }
    var files: [String] { [artifact.path] }
    var summary: String { "Image: \(artifact.description)" }

    func state(_ name: String) -> MsgPackValue {
        guard name == "generated_data" else { return .nil }
        return .map(generatedData.sorted { $0.key < $1.key }.map { MsgPackPair(.string($0.key), .string($0.value)) })
    }

    /// A post-processor discarded the image (keep_input_artifact false): remove the file, and its
    /// directory when nothing else is in it (the original plugin removed the whole directory).
    func destroy() throws {
        try syscall("unlink", path: artifact.path) { unlink(artifact.path) }
        if let slash = artifact.path.lastIndex(of: "/") { rmdir(String(artifact.path[..<slash])) }
    }
}
