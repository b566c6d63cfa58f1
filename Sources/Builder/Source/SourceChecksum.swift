/// `source_checksum`: `sha256:HEX`, or `file:URL` naming a checksum file (`sha256sum` lines, `HEX  name`,
/// or BSD `SHA256 (name) = HEX`) in which the entry for the source's file name is the expected digest. The
/// URL may be http(s):// or file://, or a plain path.
public enum SourceChecksum: Sendable, Equatable {
    case sha256(String)
    case file(String)

    public init(_ text: String) throws(SourceImageError) {
        if text.lowercased().hasPrefix("sha256:") {
            let digest = String(text.dropFirst("sha256:".count)).lowercased()
            guard Self.isDigest(digest) else {
                throw SourceImageError("\"\(text)\": expected sha256: and 64 hex digits")
            }
            self = .sha256(digest)
        } else if text.hasPrefix("file:"), text.count > "file:".count {
            self = .file(String(text.dropFirst("file:".count)))
        } else {
            throw SourceImageError("\"\(text)\" is neither sha256:HEX nor file:URL of a checksum file (other hashes are not supported)")
        }
    }

    static func isDigest(_ text: String) -> Bool { text.count == 64 && text.allSatisfy(\.isHexDigit) }

    /// The digest for `fileName` in a checksum file's text; nil when no entry names it (a file holding only
    /// one digest with no name counts as naming it).
    static func entry(for fileName: String, in text: String) -> String? {
        var bare: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if fields.count == 4, fields[0].uppercased() == "SHA256", fields[2] == "=",
               fields[1].hasPrefix("("), fields[1].hasSuffix(")") {
                let name = String(fields[1].dropFirst().dropLast())
                if matches(name, fileName), isDigest(fields[3].lowercased()) { return fields[3].lowercased() }
            } else if fields.count == 2, isDigest(fields[0].lowercased()) {
                let name = fields[1].hasPrefix("*") ? String(fields[1].dropFirst()) : fields[1]
                if matches(name, fileName) { return fields[0].lowercased() }
            } else if fields.count == 1, isDigest(fields[0].lowercased()) {
                bare.append(fields[0].lowercased())
            }
        }
        return bare.count == 1 ? bare[0] : nil
    }

    private static func matches(_ name: String, _ fileName: String) -> Bool {
        name == fileName || name.hasSuffix("/" + fileName)
    }
}
