/// Why msgpack input was rejected. `truncated` means the input ended inside a value.
public enum MsgPackError: Error, Equatable, CustomStringConvertible {
    case truncated
    case reservedByte(UInt8)
    case tooDeep(limit: Int)
    case tooLarge(length: UInt64, limit: Int)
    case tooManyValues(limit: Int)

    public var description: String {
        switch self {
        case .truncated: return "msgpack: input ends inside a value"
        case .reservedByte(let byte): return "msgpack: reserved type byte 0x\(String(byte, radix: 16))"
        case .tooDeep(let limit): return "msgpack: values nested deeper than \(limit) levels"
        case .tooLarge(let length, let limit): return "msgpack: length \(length) exceeds the limit of \(limit) bytes"
        case .tooManyValues(let limit): return "msgpack: a message holds more than \(limit) values"
        }
    }
}
