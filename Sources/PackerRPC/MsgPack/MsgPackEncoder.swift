/// Writes msgpack in the smallest form for each value, as Go's codec does: positive fixint/uint8..64 for
/// unsigned values, negative fixint/int8..64 for signed ones, str (never the old raw) for strings, bin for
/// bytes, float64 for floats.
public enum MsgPackEncoder {
    public static func encode(_ value: MsgPackValue) -> [UInt8] {
        var out: [UInt8] = []
        encode(value, into: &out)
        return out
    }

    public static func encode(_ value: MsgPackValue, into out: inout [UInt8]) {
        switch value {
        case .nil: out.append(0xc0)
        case .bool(let flag): out.append(flag ? 0xc3 : 0xc2)
        case .uint(let number): appendUnsigned(number, into: &out)
        case .int(let number):
            if number >= 0 { appendUnsigned(UInt64(number), into: &out) } else { appendNegative(number, into: &out) }
        case .float(let number):
            out.append(0xcb)
            appendBigEndian(number.bitPattern, bytes: 8, into: &out)
        case .string(let text):
            let bytes = Array(text.utf8)
            appendLength(bytes.count, fix: (0xa0, 31), widths: (0xd9, 0xda, 0xdb), into: &out)
            out += bytes
        case .binary(let bytes):
            appendLength(bytes.count, fix: nil, widths: (0xc4, 0xc5, 0xc6), into: &out)
            out += bytes
        case .array(let items):
            appendLength(items.count, fix: (0x90, 15), widths: nil, into: &out, arrayOrMap: (0xdc, 0xdd))
            for item in items { encode(item, into: &out) }
        case .map(let pairs):
            appendLength(pairs.count, fix: (0x80, 15), widths: nil, into: &out, arrayOrMap: (0xde, 0xdf))
            for pair in pairs {
                encode(pair.key, into: &out)
                encode(pair.value, into: &out)
            }
        case .ext(let type, let data):
            appendExtHeader(type: type, count: data.count, into: &out)
            out += data
        }
    }

    private static func appendUnsigned(_ number: UInt64, into out: inout [UInt8]) {
        switch number {
        case 0...0x7f: out.append(UInt8(number))
        case 0...0xff: out += [0xcc, UInt8(number)]
        case 0...0xffff: out.append(0xcd); appendBigEndian(number, bytes: 2, into: &out)
        case 0...0xffff_ffff: out.append(0xce); appendBigEndian(number, bytes: 4, into: &out)
        default: out.append(0xcf); appendBigEndian(number, bytes: 8, into: &out)
        }
    }

    private static func appendNegative(_ number: Int64, into out: inout [UInt8]) {
        let bits = UInt64(bitPattern: number)
        switch number {
        case -32...(-1): out.append(UInt8(truncatingIfNeeded: bits))
        case Int64(Int8.min)...: out += [0xd0, UInt8(truncatingIfNeeded: bits)]
        case Int64(Int16.min)...: out.append(0xd1); appendBigEndian(bits, bytes: 2, into: &out)
        case Int64(Int32.min)...: out.append(0xd2); appendBigEndian(bits, bytes: 4, into: &out)
        default: out.append(0xd3); appendBigEndian(bits, bytes: 8, into: &out)
        }
    }

    private static func appendLength(_ count: Int, fix: (UInt8, Int)?, widths: (UInt8, UInt8, UInt8)?,
                                     into out: inout [UInt8], arrayOrMap: (UInt8, UInt8)? = nil) {
        if let fix, count <= fix.1 { out.append(fix.0 | UInt8(count)); return }
        if let widths {
            if count <= 0xff { out += [widths.0, UInt8(count)]; return }
            if count <= 0xffff { out.append(widths.1); appendBigEndian(UInt64(count), bytes: 2, into: &out); return }
            out.append(widths.2); appendBigEndian(UInt64(count), bytes: 4, into: &out)
        } else if let arrayOrMap {
            if count <= 0xffff { out.append(arrayOrMap.0); appendBigEndian(UInt64(count), bytes: 2, into: &out); return }
            out.append(arrayOrMap.1); appendBigEndian(UInt64(count), bytes: 4, into: &out)
        }
    }

    private static func appendExtHeader(type: Int8, count: Int, into out: inout [UInt8]) {
        let typeByte = UInt8(bitPattern: type)
        let fixed: [Int: UInt8] = [1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8]
        if let marker = fixed[count] { out += [marker, typeByte]; return }
        if count <= 0xff { out += [0xc7, UInt8(count), typeByte]; return }
        if count <= 0xffff { out.append(0xc8); appendBigEndian(UInt64(count), bytes: 2, into: &out); out.append(typeByte); return }
        out.append(0xc9); appendBigEndian(UInt64(count), bytes: 4, into: &out); out.append(typeByte)
    }

    static func appendBigEndian(_ number: UInt64, bytes: Int, into out: inout [UInt8]) {
        for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: number >> UInt64(shift)))
        }
    }
}
