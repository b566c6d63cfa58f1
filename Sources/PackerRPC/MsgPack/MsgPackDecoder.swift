/// Reads one msgpack value. Hostile input gives an error, never a crash or a large allocation: container
/// counts are not trusted for reservations (each element needs at least one byte, so a lie runs out of
/// input), lengths of str/bin/ext are capped by `maxLength`, nesting by `maxDepth`, and the number of
/// values in one message by `maxValues` (a decoded value is ~40 times larger than its 1-byte encoding).
public struct MsgPackDecoder {
    public var maxDepth: Int
    public var maxLength: Int
    public var maxValues: Int

    public init(maxDepth: Int = 64, maxLength: Int = 64 << 20, maxValues: Int = 1 << 20) {
        self.maxDepth = maxDepth
        self.maxLength = maxLength
        self.maxValues = maxValues
    }

    public static func decode(_ bytes: [UInt8]) throws -> MsgPackValue {
        var input = BufferInput(bytes)
        return try MsgPackDecoder().decode(from: &input)
    }

    public func decode<Input: ByteInput>(from input: inout Input) throws -> MsgPackValue {
        var budget = maxValues
        return try decode(from: &input, depth: 0, budget: &budget)
    }

    private func decode<Input: ByteInput>(from input: inout Input, depth: Int, budget: inout Int) throws -> MsgPackValue {
        guard depth < maxDepth else { throw MsgPackError.tooDeep(limit: maxDepth) }
        budget -= 1
        guard budget >= 0 else { throw MsgPackError.tooManyValues(limit: maxValues) }
        let marker = try input.readByte()
        switch marker {
        case 0x00...0x7f: return .uint(UInt64(marker))
        case 0x80...0x8f: return try map(count: Int(marker & 0x0f), from: &input, depth: depth, budget: &budget)
        case 0x90...0x9f: return try array(count: Int(marker & 0x0f), from: &input, depth: depth, budget: &budget)
        case 0xa0...0xbf: return try string(length: UInt64(marker & 0x1f), from: &input)
        case 0xc0: return .nil
        case 0xc1: throw MsgPackError.reservedByte(marker)
        case 0xc2: return .bool(false)
        case 0xc3: return .bool(true)
        case 0xc4, 0xc5, 0xc6:
            let length = try bigEndian(from: &input, bytes: 1 << Int(marker - 0xc4))
            return .binary(try bytes(length: length, from: &input))
        case 0xc7, 0xc8, 0xc9:
            let length = try bigEndian(from: &input, bytes: 1 << Int(marker - 0xc7))
            let type = Int8(bitPattern: try input.readByte())
            return .ext(type: type, data: try bytes(length: length, from: &input))
        case 0xca:
            return .float(Double(Float(bitPattern: UInt32(try bigEndian(from: &input, bytes: 4)))))
        case 0xcb: return .float(Double(bitPattern: try bigEndian(from: &input, bytes: 8)))
        case 0xcc...0xcf: return .uint(try bigEndian(from: &input, bytes: 1 << Int(marker - 0xcc)))
        case 0xd0...0xd3:
            let width = 1 << Int(marker - 0xd0)
            return .int(signExtend(try bigEndian(from: &input, bytes: width), bytes: width))
        case 0xd4...0xd8:
            let type = Int8(bitPattern: try input.readByte())
            return .ext(type: type, data: try input.read(count: 1 << Int(marker - 0xd4)))
        case 0xd9, 0xda, 0xdb:
            return try string(length: try bigEndian(from: &input, bytes: 1 << Int(marker - 0xd9)), from: &input)
        case 0xdc, 0xdd:
            let count = try bigEndian(from: &input, bytes: marker == 0xdc ? 2 : 4)
            return try array(count: Int(count), from: &input, depth: depth, budget: &budget)
        case 0xde, 0xdf:
            let count = try bigEndian(from: &input, bytes: marker == 0xde ? 2 : 4)
            return try map(count: Int(count), from: &input, depth: depth, budget: &budget)
        default: return .int(Int64(Int8(bitPattern: marker)))
        }
    }

    private func array<Input: ByteInput>(count: Int, from input: inout Input, depth: Int, budget: inout Int) throws -> MsgPackValue {
        var items: [MsgPackValue] = []
        for _ in 0..<count { items.append(try decode(from: &input, depth: depth + 1, budget: &budget)) }
        return .array(items)
    }

    private func map<Input: ByteInput>(count: Int, from input: inout Input, depth: Int, budget: inout Int) throws -> MsgPackValue {
        var pairs: [MsgPackPair] = []
        for _ in 0..<count {
            let key = try decode(from: &input, depth: depth + 1, budget: &budget)
            pairs.append(MsgPackPair(key, try decode(from: &input, depth: depth + 1, budget: &budget)))
        }
        return .map(pairs)
    }

    private func string<Input: ByteInput>(length: UInt64, from input: inout Input) throws -> MsgPackValue {
        .string(String(decoding: try bytes(length: length, from: &input), as: UTF8.self))
    }

    private func bytes<Input: ByteInput>(length: UInt64, from input: inout Input) throws -> [UInt8] {
        guard length <= UInt64(maxLength) else { throw MsgPackError.tooLarge(length: length, limit: maxLength) }
        return try input.read(count: Int(length))
    }

    private func bigEndian<Input: ByteInput>(from input: inout Input, bytes: Int) throws -> UInt64 {
        var number: UInt64 = 0
        for _ in 0..<bytes { number = number << 8 | UInt64(try input.readByte()) }
        return number
    }

    private func signExtend(_ bits: UInt64, bytes: Int) -> Int64 {
        let shift = UInt64(64 - bytes * 8)
        return Int64(bitPattern: bits << shift) >> Int64(shift)
    }
}
