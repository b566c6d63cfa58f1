@testable import PackerRPC
import Testing

@Suite struct MsgPackTests {
    private func roundTrip(_ value: MsgPackValue, _ expectedHex: String) throws {
        let bytes = MsgPackEncoder.encode(value)
        #expect(bytes == hex(expectedHex), "encoding \(value)")
        #expect(try MsgPackDecoder.decode(bytes) == value)
    }

    @Test func integersUseTheSmallestForm() throws {
        try roundTrip(.uint(0), "00")
        try roundTrip(.uint(127), "7f")
        try roundTrip(.uint(128), "cc80")
        try roundTrip(.uint(256), "cd0100")
        try roundTrip(.uint(70000), "ce00011170")
        try roundTrip(.uint(1 << 40), "cf0000010000000000")
        try roundTrip(.int(-1), "ff")
        try roundTrip(.int(-32), "e0")
        try roundTrip(.int(-33), "d0df")
        try roundTrip(.int(-200), "d1ff38")
        try roundTrip(.int(-70000), "d2fffeee90")
        try roundTrip(.int(Int64.min), "d38000000000000000")
    }

    @Test func positiveSignedIntegersDecodeAsUnsigned() throws {
        #expect(MsgPackEncoder.encode(.int(5)) == [0x05])
        #expect(try MsgPackDecoder.decode(hex("d005")) == .int(5))
        #expect(try MsgPackDecoder.decode(hex("cb4014000000000000")).integerValue == 5)
        #expect(try MsgPackDecoder.decode(hex("ca3fc00000")) == .float(1.5))
    }

    @Test func stringsBinariesAndFloats() throws {
        try roundTrip(.string(""), "a0")
        try roundTrip(.string("Ui.Say"), "a6" + ascii("Ui.Say"))
        let long = String(repeating: "x", count: 43)
        try roundTrip(.string(long), "d92b" + ascii(long))
        try roundTrip(.string(String(repeating: "y", count: 300)), "da012c" + ascii(String(repeating: "y", count: 300)))
        try roundTrip(.string(String(repeating: "z", count: 70000)), "db00011170" + ascii(String(repeating: "z", count: 70000)))
        try roundTrip(.binary([1, 2]), "c4020102")
        try roundTrip(.binary([UInt8](repeating: 7, count: 300)), "c5012c" + String(repeating: "07", count: 300))
        try roundTrip(.binary([UInt8](repeating: 0, count: 70000)), "c600011170" + String(repeating: "00", count: 70000))
        try roundTrip(.float(5), "cb4014000000000000")
        try roundTrip(.nil, "c0")
        try roundTrip(.bool(true), "c3")
        try roundTrip(.bool(false), "c2")
    }

    @Test func containersAndExtensions() throws {
        try roundTrip(.array([]), "90")
        try roundTrip(.array(Array(repeating: .nil, count: 16)), "dc0010" + String(repeating: "c0", count: 16))
        try roundTrip(.map([]), "80")
        let header = MsgPackValue.object(["ServiceMethod": .string("Ui.Say"), "Seq": .uint(0)])
        try roundTrip(header, "82 ad" + ascii("ServiceMethod") + "a6" + ascii("Ui.Say") + "a3" + ascii("Seq") + "00")
        let bigMap = MsgPackValue.map((0..<16).map { MsgPackPair(.uint(UInt64($0)), .nil) })
        try roundTrip(bigMap, "de0010" + (0..<16).map { String(format: $0) + "c0" }.joined())
        try roundTrip(.ext(type: -1, data: [1, 2, 3, 4]), "d6ff01020304")
        try roundTrip(.ext(type: 5, data: [9, 9, 9]), "c7030509 0909")
        try roundTrip(.ext(type: 1, data: [UInt8](repeating: 1, count: 256)), "c8010001" + String(repeating: "01", count: 256))
        try roundTrip(.array([.array([.string("a")])]), "91 91 a161")
    }

    @Test func lookups() throws {
        let body = try MsgPackDecoder.decode(hex("82 a2" + ascii("Id") + "cd0102 a4" + ascii("Name") + "a178"))
        #expect(body["Id"]?.uint32Value == 258)
        #expect(body["Name"]?.stringValue == "x")
        #expect(body["Missing"] == nil)
    }

    @Test func truncatedInputIsAnError() {
        for bytes in ["cd01", "a5616263", "92 01", "81 a161", "c4ff", "d9", "cb0000", "d6ff0102"] {
            #expect(throws: MsgPackError.truncated) { try MsgPackDecoder.decode(hex(bytes)) }
        }
    }

    @Test func oversizedLengthsAreBoundedByTheInput() {
        // A 4 GiB string, array and map claimed by 5-byte headers: rejected without allocating.
        #expect(throws: MsgPackError.tooLarge(length: 0xffff_fff0, limit: 64 << 20)) {
            try MsgPackDecoder.decode(hex("dbfffffff0 41"))
        }
        #expect(throws: MsgPackError.truncated) { try MsgPackDecoder.decode(hex("db00fffff0 41")) }
        #expect(throws: MsgPackError.truncated) { try MsgPackDecoder.decode(hex("ddffffffff c0")) }
        #expect(throws: MsgPackError.truncated) { try MsgPackDecoder.decode(hex("dfffffffff c0c0")) }
        var small = MsgPackDecoder(maxLength: 16)
        small.maxDepth = 64
        var input = BufferInput(hex("c611000000") + [UInt8](repeating: 0, count: 17))
        #expect(throws: MsgPackError.tooLarge(length: 0x1100_0000, limit: 16)) { try small.decode(from: &input) }
    }

    @Test func valueCountIsBounded() {
        var input = BufferInput(hex("dd00010000") + [UInt8](repeating: 0xc0, count: 65536))
        let decoder = MsgPackDecoder(maxValues: 1000)
        #expect(throws: MsgPackError.tooManyValues(limit: 1000)) { try decoder.decode(from: &input) }
    }

    @Test func deepNestingIsRefused() {
        let deep = [UInt8](repeating: 0x91, count: 10_000) + [0xc0]
        #expect(throws: MsgPackError.tooDeep(limit: 64)) { try MsgPackDecoder.decode(deep) }
        #expect(throws: MsgPackError.reservedByte(0xc1)) { try MsgPackDecoder.decode([0xc1]) }
    }

    @Test func consecutiveValuesDecodeIncrementally() throws {
        var input = BufferInput(hex("a3616263 c0 05"))
        let decoder = MsgPackDecoder()
        #expect(try decoder.decode(from: &input) == .string("abc"))
        #expect(try decoder.decode(from: &input) == .nil)
        #expect(try decoder.decode(from: &input) == .uint(5))
        #expect(input.remaining == 0)
    }
}

private extension String {
    init(format value: Int) { self = value < 16 ? "0" + String(value, radix: 16) : String(value, radix: 16) }
}
