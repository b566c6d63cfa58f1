/// A value in lvm2's configuration syntax, in which VG metadata is written: `name = value`, `name { … }`,
/// strings in double quotes with backslash escapes, integers, reals, `[ a, b ]` lists and `#` comments.
public indirect enum LVMConfigValue: Equatable, Sendable {
    case string(String), integer(Int64), real(Double), list([LVMConfigValue]), section(LVMConfigSection)
}

public struct LVMConfigField: Equatable, Sendable {
    public let name: String
    public let value: LVMConfigValue
}

public struct LVMConfigSection: Equatable, Sendable {
    public let fields: [LVMConfigField]

    public subscript(_ name: String) -> LVMConfigValue? { fields.first { $0.name == name }?.value }

    public func section(_ name: String) -> LVMConfigSection? {
        if case .section(let section)? = self[name] { return section }
        return nil
    }

    public func string(_ name: String) -> String? {
        if case .string(let text)? = self[name] { return text }
        return nil
    }

    public func integer(_ name: String) -> Int64? {
        if case .integer(let value)? = self[name] { return value }
        return nil
    }

    /// The strings of a list field (`status = ["READ", "WRITE"]`).
    public func strings(_ name: String) -> [String]? {
        guard case .list(let items)? = self[name] else { return nil }
        return items.compactMap { if case .string(let text) = $0 { return text } else { return nil } }
    }

    /// The fields whose values are sections, in order (the PVs of `physical_volumes`, …).
    public var sections: [(name: String, section: LVMConfigSection)] {
        fields.compactMap { field in
            if case .section(let section) = field.value { return (field.name, section) }
            return nil
        }
    }
}

/// Parses lvm2 configuration text. Every error names the line; nesting is limited, as the text comes
/// from an untrusted image.
public enum LVMConfigParser {
    public static let maximumDepth = 32

    public static func parse(_ text: String) throws -> LVMConfigSection {
        var parser = Parser(bytes: Array(text.utf8))
        let section = try parser.fields(depth: 0, closing: false)
        return section
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0
        var line = 1

        mutating func fields(depth: Int, closing: Bool) throws -> LVMConfigSection {
            guard depth <= LVMConfigParser.maximumDepth else { throw error("sections nest deeper than \(LVMConfigParser.maximumDepth)") }
            var fields: [LVMConfigField] = []
            while true {
                skipSpace()
                guard let byte = peek() else {
                    if closing { throw error("a section is not closed with '}'") }
                    return LVMConfigSection(fields: fields)
                }
                if byte == UInt8(ascii: "}") {
                    guard closing else { throw error("'}' without a matching '{'") }
                    position += 1
                    return LVMConfigSection(fields: fields)
                }
                let name = try identifier()
                skipSpace()
                switch peek() {
                case UInt8(ascii: "{"):
                    position += 1
                    fields.append(LVMConfigField(name: name, value: .section(try self.fields(depth: depth + 1, closing: true))))
                case UInt8(ascii: "="):
                    position += 1
                    fields.append(LVMConfigField(name: name, value: try value(depth: depth)))
                default:
                    throw error("'\(name)' is followed by neither '=' nor '{'")
                }
            }
        }

        mutating func value(depth: Int) throws -> LVMConfigValue {
            skipSpace()
            guard let byte = peek() else { throw error("a value is missing at the end of the text") }
            switch byte {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["):
                guard depth < LVMConfigParser.maximumDepth else { throw error("lists nest deeper than \(LVMConfigParser.maximumDepth)") }
                position += 1
                var items: [LVMConfigValue] = []
                while true {
                    skipSpace()
                    guard let next = peek() else { throw error("a list is not closed with ']'") }
                    if next == UInt8(ascii: "]") { position += 1; return .list(items) }
                    if next == UInt8(ascii: ","), !items.isEmpty { position += 1; continue }
                    items.append(try value(depth: depth + 1))
                }
            default: return try number()
            }
        }

        mutating func string() throws -> String {
            position += 1
            var out: [UInt8] = []
            while let byte = peek() {
                position += 1
                switch byte {
                case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = peek() else { throw error("a string ends in a backslash") }
                    out.append(escaped)
                    position += 1
                case UInt8(ascii: "\n"):
                    line += 1
                    out.append(byte)
                default: out.append(byte)
                }
            }
            throw error("a string is not closed with '\"'")
        }

        mutating func number() throws -> LVMConfigValue {
            let start = position
            while let byte = peek(), isNumberByte(byte) { position += 1 }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            if let value = Int64(text) { return .integer(value) }
            if text.contains("."), let value = Double(text) { return .real(value) }
            throw error(text.isEmpty ? "a value is neither a string, a number nor a list" : "'\(text)' is not a number that fits in 64 bits")
        }

        mutating func identifier() throws -> String {
            let start = position
            while let byte = peek(), isNameByte(byte) { position += 1 }
            guard position > start else {
                throw error("unexpected '\(String(decoding: [bytes[position]], as: UTF8.self))' where a name should be")
            }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func skipSpace() {
            while let byte = peek() {
                if byte == UInt8(ascii: "#") {
                    while let c = peek(), c != UInt8(ascii: "\n") { position += 1; _ = c }
                } else if byte == UInt8(ascii: "\n") {
                    line += 1
                    position += 1
                } else if byte == 0x20 || byte == 0x09 || byte == 0x0D {
                    position += 1
                } else {
                    return
                }
            }
        }

        func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

        func isNameByte(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || [UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "/")].contains(b)
        }

        func isNumberByte(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || b == UInt8(ascii: ".")
        }

        func error(_ message: String) -> LayoutError { LayoutError("LVM metadata line \(line): \(message)") }
    }
}
