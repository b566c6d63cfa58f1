import PackerRPC
import Builder
import Glibc
import NBDCore

/// The Builder library's artifact (the output image) as Packer's Artifact service sees it.
final class ImageArtifact: PluginArtifact {
    /// packer-plugin-sdk `packer/registry/image.ArtifactStateURI`: the key HCP Packer asks for.
    static let hcpMetadataKey = "par.artifact.metadata"

    private let artifact: Artifact
    private let generatedData: [String: String]
    private let sourceImage: String
    private let format: String

    init(_ artifact: Artifact, generatedData: [String: String], sourceImage: String, format: String) {
        self.artifact = artifact
        self.generatedData = generatedData
        self.sourceImage = sourceImage
        self.format = format
    }

    var builderID: String { Artifact.builderID }
    var id: String { artifact.path }
    var files: [String] { [artifact.path] }
    var summary: String { "Image: \(artifact.description)" }

    func state(_ name: String) -> MsgPackValue {
        switch name {
        case "generated_data": return Self.stringMap(generatedData)
        case Self.hcpMetadataKey: return .array([hcpImage])
        default: return .nil
        }
    }

    /// One `registryimage.Image` as Packer's HCP code decodes it (mapstructure into []Image, field names as
    /// keys), shaped like the SDK's own file builder: the file name as the id, its directory as the region.
    private var hcpImage: MsgPackValue {
        let slash = artifact.path.lastIndex(of: "/")
        let fields: [(String, MsgPackValue)] = [
            ("ImageID", .string(slash.map { String(artifact.path[artifact.path.index(after: $0)...]) } ?? artifact.path)),
            ("ProviderName", .string(builderID)),
            ("ProviderRegion", .string(slash.map { String(artifact.path[..<$0]) } ?? ".")),
            ("Labels", Self.stringMap(["format": format, "size": String(artifact.size), "sha256": artifact.sha256])),
            ("SourceImageID", .string(sourceImage)),
        ]
        return .map(fields.map { MsgPackPair(.string($0.0), $0.1) })
    }

    private static func stringMap(_ values: [String: String]) -> MsgPackValue {
        .map(values.sorted { $0.key < $1.key }.map { MsgPackPair(.string($0.key), .string($0.value)) })
    }

    /// A post-processor discarded the image (keep_input_artifact false): remove the file, and its
    /// directory when nothing else is in it (the original plugin removed the whole directory).
    func destroy() throws {
        try syscall("unlink", path: artifact.path) { unlink(artifact.path) }
        if let slash = artifact.path.lastIndex(of: "/") { rmdir(String(artifact.path[..<slash])) }
    }
}
