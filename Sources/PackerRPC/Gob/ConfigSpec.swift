/// The HCL2 schema of a builder, as Packer 1.6 wants it from Builder.ConfigSpec: the gob encoding of an
/// `hcldec.ObjectSpec` (map[string]hcldec.Spec) whose entries are `*hcldec.AttrSpec{Name, Type, Required}`,
/// `Type` being a go-cty type written by its own GobEncode (a complete, separate gob stream).
public struct ConfigSpec: Equatable, Sendable {
    public indirect enum AttributeType: Equatable, Sendable {
        case string, number, bool
        case list(AttributeType)
        case map(AttributeType)
    }

    public struct Attribute: Equatable, Sendable {
        public var name: String
        public var type: AttributeType
        public var required: Bool
        public init(_ name: String, _ type: AttributeType, required: Bool = false) {
            self.name = name
            self.type = type
            self.required = required
        }
    }

    public var attributes: [Attribute]
    public init(_ attributes: [Attribute]) { self.attributes = attributes }

    public func gob() -> [UInt8] {
        let objectSpec: Int64 = 65, attrSpec: Int64 = 66, ctyType: Int64 = 67
        var out = GobWriter.mapType(id: objectSpec, name: "ObjectSpec",
                                    key: GobWriter.TypeID.string, element: GobWriter.TypeID.interface)
        if !attributes.isEmpty {
            out += GobWriter.structType(id: attrSpec, name: "AttrSpec", fields: [
                ("Name", GobWriter.TypeID.string), ("Type", ctyType), ("Required", GobWriter.TypeID.bool),
            ])
            out += GobWriter.gobEncoderType(id: ctyType, name: "Type")
        }
        out += GobWriter.message { w in
            w.int(objectSpec)
            w.uint(0) // a top-level non-struct value
            w.uint(UInt64(attributes.count))
            for attribute in attributes {
                w.string(attribute.name)
                w.string("*hcldec.AttrSpec")
                w.int(attrSpec)
                var value = GobWriter()
                value.uint(1); value.string(attribute.name)
                value.uint(1); value.data(Self.ctyTypeGob(attribute.type))
                if attribute.required { value.uint(1); value.uint(1) }
                value.uint(0)
                w.data(value.bytes)
            }
        }
        return out
    }

    /// go-cty's `Type.GobEncode`: `gobType{Version: 0, Impl: <typeImpl>}` as its own gob stream.
    static func ctyTypeGob(_ type: AttributeType) -> [UInt8] {
        let gobType: Int64 = 65, implType: Int64 = 66, nestedType: Int64 = 67
        var out = GobWriter.structType(id: gobType, name: "gobType",
                                       fields: [("Version", GobWriter.TypeID.int), ("Impl", GobWriter.TypeID.interface)])
        let implName: String
        var implValue = GobWriter()
        switch type {
        case .string, .number, .bool:
            out += GobWriter.structType(id: implType, name: "primitiveType", fields: [("Kind", GobWriter.TypeID.uint)])
            implName = "primitiveType"
            let kind: UInt8 = type == .string ? 0x53 : type == .number ? 0x4e : 0x42 // 'S', 'N', 'B'
            implValue.uint(1); implValue.uint(UInt64(kind))
        case .list(let element), .map(let element):
            let structName = if case .list = type { "typeList" } else { "typeMap" }
            out += GobWriter.structType(id: implType, name: structName, fields: [("ElementTypeT", nestedType)])
            out += GobWriter.gobEncoderType(id: nestedType, name: "Type")
            implName = structName
            implValue.uint(1); implValue.data(ctyTypeGob(element))
        }
        implValue.uint(0)
        out += GobWriter.message { w in
            w.int(gobType)
            w.uint(2) // field Impl (Version 0 is omitted)
            w.string("github.com/zclconf/go-cty/cty.\(implName)")
            w.int(implType)
            w.data(implValue.bytes)
            w.uint(0)
        }
        return out
    }
}
