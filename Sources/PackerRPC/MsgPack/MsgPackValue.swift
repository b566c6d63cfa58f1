/// One msgpack value as Packer's Go codec (ugorji GoRpc, MsgpackHandle) writes it. Maps keep their wire
/// order so that encode(decode(x)) reproduces x; look-ups by key are linear, maps here are small.
public enum MsgPackValue: Equatable, Sendable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case float(Double)
    case string(String)
    case binary([UInt8])
    case array([MsgPackValue])
    case map([MsgPackPair])
    case ext(type: Int8, data: [UInt8])

    /// A map keyed by strings, in the given order (Go structs are maps keyed by exact field names).
    public static func object(_ fields: KeyValuePairs<String, MsgPackValue>) -> MsgPackValue {
        .map(fields.map { MsgPackPair(.string($0.key), $0.value) })
    }

    public static func strings(_ values: [String]?) -> MsgPackValue {
        guard let values else { return .nil }
        return .array(values.map { .string($0) })
    }

    /// The value under a string key of a map; nil when absent or not a map.
    public subscript(key: String) -> MsgPackValue? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.key == .string(key) }?.value
    }

    public var stringValue: String? {
        switch self {
        case .string(let text): return text
        case .binary(let bytes): return String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
    }

    /// Any integer width, or a float64 holding a whole number (Packer's JSON numbers are float64).
    public var integerValue: Int64? {
        switch self {
        case .int(let value): return value
        case .uint(let value): return value <= UInt64(Int64.max) ? Int64(value) : nil
        case .float(let value):
            guard value.rounded() == value, abs(value) < 9.2e18 else { return nil }
            return Int64(value)
        default: return nil
        }
    }

    /// A uint32 broker or stream id, from whatever integer width the peer used.
    public var uint32Value: UInt32? {
        guard let value = integerValue, value >= 0, value <= Int64(UInt32.max) else { return nil }
        return UInt32(value)
    }

    public var arrayValue: [MsgPackValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var isNil: Bool { self == .nil }
}

public struct MsgPackPair: Equatable, Sendable {
    public var key: MsgPackValue
    public var value: MsgPackValue
    public init(_ key: MsgPackValue, _ value: MsgPackValue) {
        self.key = key
        self.value = value
    }
}

extension MsgPackValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}
