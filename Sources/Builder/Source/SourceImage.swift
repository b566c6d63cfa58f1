/// `source_image` as written: a local path, or an `http://`, `https://` or `file://` URL the build downloads
/// into the cache first; and the compression its name ends in (`.xz`, `.zst`, `.gz`, `.bz2`), which the
/// build decompresses into the cache before using it.
public struct SourceImage: Sendable, Equatable {
    public enum Scheme: String, Sendable, CaseIterable {
        case http, https, file
    }

    public let text: String
    /// nil for a local path.
    public let scheme: Scheme?
    public let compression: SourceCompression?

    public init(_ text: String) throws(SourceImageError) {
        self.text = text
        if let separator = text.firstRange(of: "://") {
            let name = text[..<separator.lowerBound].lowercased()
            guard let scheme = Scheme(rawValue: name) else {
                throw SourceImageError("\"\(text)\" is a \(name):// URL; source_image takes a path or an http://, https:// or file:// URL")
            }
            guard !text[separator.upperBound...].isEmpty else { throw SourceImageError("\"\(text)\" names no file") }
            self.scheme = scheme
        } else {
            scheme = nil
        }
        let name = Self.fileName(of: text)
        compression = SourceCompression.allCases.first { name.hasSuffix("." + $0.rawValue) }
        if compression != nil, name.split(separator: ".").count < 2 {
            throw SourceImageError("\"\(text)\" names only a compression suffix")
        }
    }

    public var isURL: Bool { scheme != nil }

    /// Whether the build reads a file in the cache instead of `text` itself.
    public var usesCache: Bool { isURL || compression != nil }

    /// The last path component without query or fragment: what a checksum file names it by.
    public var fileName: String { Self.fileName(of: text) }

    static func fileName(of text: String) -> String {
        var path = Substring(text)
        if let end = path.firstIndex(where: { $0 == "?" || $0 == "#" }), text.contains("://") { path = path[..<end] }
        return path.split(separator: "/").last.map(String.init) ?? ""
    }
}

/// What the name of a compressed source ends in, and the program that decompresses it to stdout.
public enum SourceCompression: String, Sendable, CaseIterable {
    case xz, zst, gz, bz2

    var decompressor: (program: String, arguments: [String]) {
        switch self {
        case .xz: ("xz", ["-dc"])
        case .zst: ("zstd", ["-dcq"])
        case .gz: ("gzip", ["-dc"])
        case .bz2: ("bzip2", ["-dc"])
        }
    }
}

public struct SourceImageError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}
