import NBDCore
/// The `file` provisioner's options: upload a host file or directory (or inline `content`) into the
/// image, or download from it, with Packer's trailing-slash rules for directories.
public struct FileConfig: Sendable {
    public enum Direction: String, CaseIterable, Sendable { case upload, download }

    public var sources: [String] = []
    public var content: String?
    public var destination = ""
    public var direction: Direction = .upload

    static func read(_ reader: OptionReader) -> FileConfig {
        var config = FileConfig()
        if let direction = reader.choice("direction", Direction.allCases.map(\.rawValue)) {
            config.direction = Direction(rawValue: direction)!
        }
        if let source = reader.string("source") { config.sources.append(source) }
        if let sources = reader.strings("sources") {
            if !config.sources.isEmpty { reader.problem("sources", "use source or sources, not both") }
            config.sources += sources
        }
        config.content = reader.string("content")
        _ = reader.bool("generated")
        if config.content != nil {
            if !config.sources.isEmpty { reader.problem("content", "use content or source, not both") }
            if config.direction == .download { reader.problem("content", "content can only be uploaded") }
        } else if config.sources.isEmpty {
            reader.problem("source", "is required (or content)")
        }
        if config.direction == .upload {
            for (index, source) in config.sources.enumerated() where !HostPath.exists(source) {
                reader.problem(reader.isSet("sources") ? "sources[\(index)]" : "source", "\"\(source)\" does not exist on the host")
            }
        }
        if let destination = reader.string("destination"), !destination.isEmpty {
            config.destination = destination
        } else {
            reader.problem("destination", "is required")
        }
        if config.direction == .upload && !config.destination.hasPrefix("/") && !config.destination.isEmpty {
            reader.problem("destination", "must be an absolute path in the image, got \"\(config.destination)\"")
        }
        return config
    }
}
