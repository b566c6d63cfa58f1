@testable import packer_builder_qemu_chroot
@testable import PackerRPC
import Testing

/// The protobuf ConfigSpec (packer-plugin-sdk rpc/hcl_spec.proto), for Packer 1.12+ started with --protobuf.
@Suite struct ProtobufTests {
    @Test func varints() {
        var w = ProtobufWriter()
        w.varint(0); w.varint(1); w.varint(127); w.varint(128); w.varint(300); w.varint(UInt64.max)
        #expect(w.bytes == hex("00 01 7f 8001 ac02 ffffffffffffffffff01"))
    }

    /// Worked out by hand from the .proto: Spec{object=1: Object{attributes=1: entry{key=1 "a",
    /// value=2: Spec{attr=2: Attr{name=1 "a", type=2: CtyType{primitive=1: {typeString=1 "cty.String"}}}}}}}.
    @Test func oneStringAttributeMatchesTheProtoByHand() {
        let expected = hex("0a1c 0a1a 0a0161 1215 1213 0a0161 120e 0a0c 0a0a" + ascii("cty.String"))
        #expect(ConfigSpec([.init("a", .string)]).protobuf() == expected)
        #expect(ConfigSpec([]).protobuf() == hex("0a00"))
    }

    @Test func requiredIsFieldThreeAndFalseIsLeftOut() throws {
        let bytes = ConfigSpec([.init("r", .bool, required: true)]).protobuf()
        #expect(bytes.suffix(2) == [0x18, 0x01])
        let attributes = try ProtobufSpecReader.objectSpec(bytes)
        #expect(attributes["r"] == ConfigSpec.Attribute("r", .bool, required: true))
    }

    @Test func theBuildersSpecReadsBackAsTheSDKWould() throws {
        let spec = QemuChrootSpec.spec
        let attributes = try ProtobufSpecReader.objectSpec(spec.protobuf())
        #expect(attributes.count == spec.attributes.count)
        for attribute in spec.attributes { #expect(attributes[attribute.name] == attribute) }
        #expect(attributes["chroot_mounts"]?.type == .list(.list(.string)))
        #expect(ConfigSpec([.init("m", .map(.number))]).encoded(.protobuf) == ConfigSpec([.init("m", .map(.number))]).protobuf())
        #expect(spec.encoded(.gob) == spec.gob())
    }
}
