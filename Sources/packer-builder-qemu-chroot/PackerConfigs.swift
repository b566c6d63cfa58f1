import PackerRPC
import Builder

/// Builder.Prepare's `Configs`, turned into the option list `BuilderConfig.read` takes.
///
/// JSON templates send maps (the builder block, then Packer's `packer_*` values); HCL2 templates send a
/// map of `packer_*` strings and then bytes holding cty-JSON `{"value": {...}, "type": ...}` in which every
/// spec attribute is present and unset ones are null. Later entries win, as in Packer's SDK.
public struct PackerConfigs {
    public private(set) var options: [(key: String, value: JSONValue)] = []

    public init(_ configs: [MsgPackValue]) throws {
        for config in configs {
            switch config {
            case .nil: continue
            case .map: try merge(Self.json(config))
            case .binary(let bytes):
                let document = try JSONParser.parse(String(decoding: bytes, as: UTF8.self))
                guard let value = document["value"] else {
                    throw PackerConfigError("the HCL2 configuration has no \"value\" (got \(document.typeName))")
                }
                try merge(value, droppingNulls: true)
            default: throw PackerConfigError("a configuration is \(config), not a map")
            }
        }
    }

    private mutating func merge(_ value: JSONValue, droppingNulls: Bool = false) throws {
        guard case .object(let members) = value else { throw PackerConfigError("a configuration is \(value.typeName), not an object") }
        for (key, value) in members where !(droppingNulls && value == .null) {
            options.removeAll { $0.key == key }
            options.append((key, value))
        }
    }

    public subscript(key: String) -> JSONValue? { options.last { $0.key == key }?.value }

    /// `packer_user_variables` ({{user `x`}} in JSON templates).
    public var userVariables: [String: String] {
        guard case .object(let members)? = self["packer_user_variables"] else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in members {
            switch value {
            case .string(let text): result[key] = text
            case .bool(let flag): result[key] = flag ? "true" : "false"
            case .number(let number): result[key] = number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
            default: result[key] = ""
            }
        }
        return result
    }

    public func string(_ key: String) -> String? {
        guard case .string(let text)? = self[key] else { return nil }
        return text
    }

    /// packer_force/packer_debug arrive as bools (JSON) or "true"/"false" strings (HCL2).
    public func flag(_ key: String) -> Bool {
        switch self[key] {
        case .bool(let flag)?: return flag
        case .string(let text)?: return text == "true"
        default: return false
        }
    }

    /// Converts Packer's msgpack to JSON: numbers (float64 from Go) become numbers, map keys strings.
    static func json(_ value: MsgPackValue, depth: Int = 0) throws -> JSONValue {
        guard depth < 64 else { throw PackerConfigError("the configuration nests deeper than 64 levels") }
        switch value {
        case .nil, .ext: return .null
        case .bool(let flag): return .bool(flag)
        case .int(let number): return .number(Double(number))
        case .uint(let number): return .number(Double(number))
        case .float(let number): return .number(number)
        case .string(let text): return .string(text)
        case .binary(let bytes): return .string(String(decoding: bytes, as: UTF8.self))
        case .array(let items): return .array(try items.map { try json($0, depth: depth + 1) })
        case .map(let pairs):
            return .object(try pairs.map { pair in
                (key: pair.key.stringValue ?? "\(pair.key)", value: try json(pair.value, depth: depth + 1))
            })
        }
    }
}

public struct PackerConfigError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
