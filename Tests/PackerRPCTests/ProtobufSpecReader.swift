@testable import PackerRPC

/// Reads a ConfigSpec back from protobuf the way packer-plugin-sdk's `protobufToHCL2Spec` does (Spec →
/// Object → map of Spec.attr), written from `rpc/hcl_spec.proto` independently of ProtobufWriter: each
/// message is parsed into its fields, unknown wire types fail, and every length is checked.
enum ProtobufSpecReader {
    struct Malformed: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    enum Field: Equatable {
        case varint(UInt64)
        case bytes([UInt8])
    }

    /// The fields of one message in order, as (number, value).
    static func fields(_ bytes: [UInt8]) throws -> [(number: UInt64, value: Field)] {
        var offset = 0
        func varint() throws -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard offset < bytes.count, shift < 64 else { throw Malformed("truncated varint at \(offset)") }
                let byte = bytes[offset]
                offset += 1
                value |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
        }
        var result: [(UInt64, Field)] = []
        while offset < bytes.count {
            let key = try varint()
            switch key & 7 {
            case 0: result.append((key >> 3, .varint(try varint())))
            case 2:
                let length = Int(try varint())
                guard length <= bytes.count - offset else { throw Malformed("field \(key >> 3) runs past the end") }
                result.append((key >> 3, .bytes(Array(bytes[offset..<offset + length]))))
                offset += length
            default: throw Malformed("wire type \(key & 7) in field \(key >> 3)")
            }
        }
        return result
    }

    static func only(_ number: UInt64, in bytes: [UInt8]) throws -> [UInt8] {
        let matches = try fields(bytes).filter { $0.number == number }
        guard matches.count == 1, case .bytes(let payload) = matches[0].value else {
            throw Malformed("expected one message in field \(number), got \(matches.count)")
        }
        return payload
    }

    /// A `Spec` whose oneof is `object` (as Packer requires of the root) → its attributes, by map key.
    static func objectSpec(_ bytes: [UInt8]) throws -> [String: ConfigSpec.Attribute] {
        let object = try only(1, in: bytes)
        var attributes: [String: ConfigSpec.Attribute] = [:]
        for field in try fields(object) {
            guard field.number == 1, case .bytes(let entry) = field.value else { throw Malformed("Object field \(field.number)") }
            let entryFields = try fields(entry)
            guard case .bytes(let key)? = entryFields.first(where: { $0.number == 1 })?.value else { throw Malformed("map entry without key") }
            let spec = try only(2, in: entry)
            attributes[String(decoding: key, as: UTF8.self)] = try attribute(only(2, in: spec))
        }
        return attributes
    }

    static func attribute(_ bytes: [UInt8]) throws -> ConfigSpec.Attribute {
        var name = "", type: ConfigSpec.AttributeType?, required = false
        for field in try fields(bytes) {
            switch (field.number, field.value) {
            case (1, .bytes(let text)): name = String(decoding: text, as: UTF8.self)
            case (2, .bytes(let ctyType)): type = try self.type(ctyType)
            case (3, .varint(let flag)): required = flag != 0
            default: throw Malformed("Attr field \(field.number)")
            }
        }
        guard let type else { throw Malformed("Attr \(name) has no type") }
        return ConfigSpec.Attribute(name, type, required: required)
    }

    static func type(_ bytes: [UInt8]) throws -> ConfigSpec.AttributeType {
        let all = try fields(bytes)
        guard all.count == 1, case .bytes(let payload) = all[0].value else { throw Malformed("CtyType is not one oneof member") }
        switch all[0].number {
        case 1:
            switch String(decoding: try only(1, in: payload), as: UTF8.self) {
            case "cty.String": return .string
            case "cty.Number": return .number
            case "cty.Bool": return .bool
            case let other: throw Malformed("primitive \(other)")
            }
        case 2: return .list(try type(only(1, in: payload)))
        case 3: return .map(try type(only(1, in: payload)))
        default: throw Malformed("CtyType field \(all[0].number)")
        }
    }
}
