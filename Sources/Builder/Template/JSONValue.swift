/// A JSON document, as parsed from a template or as written by a report: objects keep their key order, so
/// errors and builds follow the order the user wrote and written documents are stable.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// Every number the parser reads (JSON's numbers are doubles to Packer too).
    case number(Double)
    /// Exact integers for the documents we write: byte sizes and GPT attribute bits pass 2^53, where a
    /// Double would silently round them. The parser never produces these.
    case int(Int64)
    case uint(UInt64)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.uint(x), .uint(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The JSON type's name as users know it, for "expected a string, got a number".
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number, .int, .uint: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }
}
