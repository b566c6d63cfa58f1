/// The ConfigSpec as Packer 1.12+ reads it when it started us with `--protobuf`: packer-plugin-sdk's
/// `rpc/hcl_spec.proto` message `Spec` holding `object` (field 1), an `Object` whose `attributes`
/// (field 1, `map<string, Spec>`) hold one `Spec.attr` (field 2) per option. Field numbers:
///   Spec    { object = 1; attr = 2; block_value = 3; block_list = 4 }   (a oneof)
///   Object  { map<string, Spec> attributes = 1 }     a map entry is { key = 1; value = 2 }
///   Attr    { name = 1; CtyType type = 2; bool required = 3 }
///   CtyType { CtyPrimitive primitive = 1; CtyList list = 2; CtyMap map = 3 }   (a oneof)
///   CtyPrimitive { typeString = 1 }  "cty.String" | "cty.Number" | "cty.Bool" (go-cty's GoString)
///   CtyList, CtyMap { CtyType elementType = 1 }
extension ConfigSpec {
    /// How Builder.ConfigSpec is serialised: gob for Packer up to 1.11 (and 1.12+ with a gob-only plugin
    /// or PACKER_FORCE_GOB), protobuf when Packer passed `--protobuf`.
    public enum Encoding: Equatable, Sendable {
        case gob, protobuf
    }

    public func encoded(_ encoding: Encoding) -> [UInt8] {
        switch encoding {
        case .gob: gob()
        case .protobuf: protobuf()
        }
    }

    public func protobuf() -> [UInt8] {
        var spec = ProtobufWriter()
        spec.message(1) { object in
            for attribute in attributes {
                object.message(1) { entry in
                    entry.string(1, attribute.name)
                    entry.message(2) { value in
                        value.message(2) { attr in
                            attr.string(1, attribute.name)
                            attr.message(2) { Self.write(attribute.type, into: &$0) }
                            attr.bool(3, attribute.required)
                        }
                    }
                }
            }
        }
        return spec.bytes
    }

    private static func write(_ type: AttributeType, into writer: inout ProtobufWriter) {
        switch type {
        case .string: writer.message(1) { $0.string(1, "cty.String") }
        case .number: writer.message(1) { $0.string(1, "cty.Number") }
        case .bool: writer.message(1) { $0.string(1, "cty.Bool") }
        case .list(let element): writer.message(2) { list in list.message(1) { write(element, into: &$0) } }
        case .map(let element): writer.message(3) { map in map.message(1) { write(element, into: &$0) } }
        }
    }
}
