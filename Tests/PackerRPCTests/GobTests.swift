@testable import PackerRPC
import Testing

/// Golden bytes captured from Debian's packer 1.6.6 (shared/reference/packer-plugin-protocol.md §7.3, §8).
@Suite struct GobTests {
    private let commandFinishedType = hex("2c ff81 03 01 01 0f" + ascii("CommandFinished") + "01 ff82 00 01 01 01 0a"
        + ascii("ExitStatus") + "01 04 00 00 00")

    @Test func commandFinishedMatchesPacker() {
        #expect(commandFinishedType.count == 45)
        let values: [(Int64, String)] = [(0, "03 ff82 00"), (1, "05 ff82 01 02 00"), (3, "05 ff82 01 06 00"),
                                         (127, "06 ff82 01 fffe 00"), (-1, "05 ff82 01 01 00"),
                                         (2_300_218, "08 ff82 01 fd463274 00")]
        for (status, valueHex) in values {
            #expect(CommandFinished.gob(exitStatus: status) == commandFinishedType + hex(valueHex), "status \(status)")
        }
    }

    @Test func integerEncoding() {
        var w = GobWriter()
        w.int(65); w.int(-65); w.uint(300); w.uint(127)
        #expect(w.bytes == hex("ff82 ff81 fe012c 7f"))
    }

    @Test func ctyStringMatchesPacker() {
        let name = ascii("github.com/zclconf/go-cty/cty.primitiveType")
        let expected = hex("2aff8103010107676f625479706501ff82000102010756657273696f6e0104000104496d706c0110000000"
            + "24ff830301010d7072696d69746976655479706501ff8400010101044b696e640106000000"
            + "36ff82022b" + name + "ff840301530000")
        #expect(expected.count == 135)
        #expect(ConfigSpec.ctyTypeGob(.string) == expected)
    }

    @Test func objectSpecDefinitionsMatchPacker() {
        let spec = ConfigSpec([.init("a", .string)]).gob()
        let mapType = hex("1a ff81 04 01 01 0a" + ascii("ObjectSpec") + "01 ff82 00 01 0c 01 10 00 00")
        let typeType = hex("10 ff85 05 01 01 04" + ascii("Type") + "01 ff86 00 00 00")
        #expect(Array(spec.prefix(mapType.count)) == mapType)
        #expect(spec.firstRange(of: typeType) != nil)
        // The value: type 65, singleton marker, one entry "a" holding *hcldec.AttrSpec (type 66).
        let entry = hex("ff82 00 01 01 61 10" + ascii("*hcldec.AttrSpec") + "ff84")
        #expect(spec.firstRange(of: entry) != nil)
    }
}
