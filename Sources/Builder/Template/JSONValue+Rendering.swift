extension JSONValue {
    /// Pretty-printed with two-space indentation, as Go's json.MarshalIndent(v, "", "  ") writes it; whole
    /// numbers without a fraction. `htmlSafe` as in `quoted`: the manifest wants Go's bytes, the CLI's
    /// reports the readable text.
    public func rendered(htmlSafe: Bool, indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let value):
            return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case .int(let value): return String(value)
        case .uint(let value): return String(value)
        case .string(let value): return Self.quoted(value, htmlSafe: htmlSafe)
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { inner + $0.rendered(htmlSafe: htmlSafe, indent: inner) }.joined(separator: ",\n")
                + "\n\(indent)]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            return "{\n" + members.map {
                "\(inner)\(Self.quoted($0.key, htmlSafe: htmlSafe)): \($0.value.rendered(htmlSafe: htmlSafe, indent: inner))"
            }.joined(separator: ",\n") + "\n\(indent)}"
        }
    }

    /// A JSON string literal. `htmlSafe` also escapes `<`, `>`, `&`, U+2028 and U+2029, as Go's
    /// encoding/json does (the manifest matches Packer's bytes).
    public static func quoted(_ text: String, htmlSafe: Bool) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || (htmlSafe && ["<", ">", "&", "\u{2028}", "\u{2029}"].contains(scalar)):
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
