/// Protocol Buffers' wire format, encoding only and only what the ConfigSpec needs: length-delimited
/// fields (strings, nested messages), varints and bools. (swift-protobuf is not in our package mirror,
/// and four wire rules do not justify it.)
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    /// Wire types (the low 3 bits of a field's key).
    private enum WireType: UInt64 {
        case varint = 0
        case lengthDelimited = 2
    }

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    private mutating func key(_ field: UInt64, _ type: WireType) { varint(field << 3 | type.rawValue) }

    mutating func string(_ field: UInt64, _ text: String) { bytes(field, Array(text.utf8)) }

    mutating func bytes(_ field: UInt64, _ payload: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(payload.count))
        bytes += payload
    }

    /// proto3 leaves a false bool out, as Go's proto.Marshal does.
    mutating func bool(_ field: UInt64, _ flag: Bool) {
        guard flag else { return }
        key(field, .varint)
        varint(1)
    }

    mutating func message(_ field: UInt64, _ build: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter()
        build(&nested)
        bytes(field, nested.bytes)
    }
}
