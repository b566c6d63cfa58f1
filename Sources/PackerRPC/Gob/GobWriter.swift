/// Go's encoding/gob primitives and type definitions: just enough to write the two gob values Packer 1.6
/// reads from a builder (CommandFinished and the HCL2 ConfigSpec). Encoding only; we never read gob.
struct GobWriter {
    private(set) var bytes: [UInt8] = []

    /// Built-in type ids.
    enum TypeID {
        static let bool: Int64 = 1, int: Int64 = 2, uint: Int64 = 3, bytes: Int64 = 5, string: Int64 = 6
        static let interface: Int64 = 8
    }

    mutating func uint(_ value: UInt64) {
        guard value >= 0x80 else { bytes.append(UInt8(value)); return }
        var bigEndian: [UInt8] = []
        var rest = value
        while rest > 0 { bigEndian.insert(UInt8(truncatingIfNeeded: rest), at: 0); rest >>= 8 }
        bytes.append(UInt8(truncatingIfNeeded: -bigEndian.count))
        bytes += bigEndian
    }

    mutating func int(_ value: Int64) {
        uint(value >= 0 ? UInt64(value) << 1 : (UInt64(bitPattern: ~value) << 1) | 1)
    }

    mutating func string(_ text: String) { data(Array(text.utf8)) }

    mutating func data(_ payload: [UInt8]) {
        uint(UInt64(payload.count))
        bytes += payload
    }

    mutating func raw(_ payload: [UInt8]) { bytes += payload }

    /// A message: its length, then the payload (type id + value, or -id + type definition).
    static func message(_ build: (inout GobWriter) -> Void) -> [UInt8] {
        var payload = GobWriter()
        build(&payload)
        var framed = GobWriter()
        framed.data(payload.bytes)
        return framed.bytes
    }

    // MARK: Type definitions (wireType messages)

    static func structType(id: Int64, name: String, fields: [(String, Int64)]) -> [UInt8] {
        message { w in
            w.int(-id)
            w.uint(3) // wireType.StructT
            w.uint(1); w.commonType(name: name, id: id)
            w.uint(1); w.uint(UInt64(fields.count))
            for (fieldName, fieldType) in fields {
                w.uint(1); w.string(fieldName)
                w.uint(1); w.int(fieldType)
                w.uint(0)
            }
            w.uint(0) // end structType
            w.uint(0) // end wireType
        }
    }

    static func mapType(id: Int64, name: String, key: Int64, element: Int64) -> [UInt8] {
        message { w in
            w.int(-id)
            w.uint(4) // wireType.MapT
            w.uint(1); w.commonType(name: name, id: id)
            w.uint(1); w.int(key)
            w.uint(1); w.int(element)
            w.uint(0)
            w.uint(0)
        }
    }

    static func gobEncoderType(id: Int64, name: String) -> [UInt8] {
        message { w in
            w.int(-id)
            w.uint(5) // wireType.GobEncoderT
            w.uint(1); w.commonType(name: name, id: id)
            w.uint(0)
            w.uint(0)
        }
    }

    private mutating func commonType(name: String, id: Int64) {
        uint(1); string(name)
        uint(1); int(id)
        uint(0)
    }
}
