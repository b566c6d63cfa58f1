/// `disk_size` as Packer's qemu builder reads it: a number of MiB, or a string with a K/M/G/T suffix
/// (binary units; "10G", "10240M", "10GiB").
public enum DiskSize: Sendable {
    public static func parse(_ value: JSONValue, context: TemplateContext) throws -> UInt64 {
        let text: String
        switch value {
        case .number: text = (JSONScalar.text(value) ?? "") + "M"
        case .string(let raw): text = try Interpolation.render(raw, context)
        default: throw InterpolationError(message: "expected a size such as \"4G\" or a number of MiB, got \(value.typeName)")
        }
        var digits = Substring(text.trimmingWhitespace())
        var unit = digits.drop(while: { $0.isNumber })
        digits = digits.prefix(while: { $0.isNumber })
        if unit.hasSuffix("iB") { unit = unit.dropLast(2) } else if unit.hasSuffix("B") && unit.count == 2 { unit = unit.dropLast() }
        let shifts: [Substring: UInt64] = ["": 20, "K": 10, "k": 10, "M": 20, "m": 20, "G": 30, "g": 30, "T": 40, "t": 40]
        guard let number = UInt64(digits), let shift = shifts[unit], number > 0,
              number <= (UInt64(1) << (60 - shift)) else {
            throw InterpolationError(message: "\"\(text)\" is not a size; use e.g. \"4G\", \"2048M\" or a number of MiB")
        }
        return number << shift
    }
}
