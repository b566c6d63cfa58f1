/// Reads fstab(5) text the way libmount does: whitespace-separated fields, '#' comment lines, octal escapes
/// (`\040` space, `\011` tab, `\134` backslash) in every field, three required fields and three optional ones.
public enum FstabParser {
    /// Longest file we read; a real fstab is a few KiB, and the text comes from an untrusted image.
    public static let maximumLength = 1 << 20

    public static func parse(_ text: String) -> FstabTable {
        var entries: [FstabEntry] = []
        var problems: [FstabLineProblem] = []
        guard text.utf8.count <= maximumLength else {
            return FstabTable(entries: [], problems: [FstabLineProblem(line: 0, message: "the file is \(text.utf8.count) bytes, more than the \(maximumLength) an fstab can sensibly be; not read")])
        }
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let fields = rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            switch entry(fields, line: number) {
            case .success(let entry): entries.append(entry)
            case .failure(let problem): problems.append(problem)
            }
        }
        return FstabTable(entries: entries, problems: problems)
    }

    private static func entry(_ fields: [String], line: Int) -> Result<FstabEntry, FstabLineProblem> {
        guard fields.count >= 3 else {
            let names = ["device", "mount point", "filesystem type"]
            return .failure(FstabLineProblem(line: line, message: "has no \(names[fields.count]) field; the line is ignored"))
        }
        guard fields.count <= 6 else {
            return .failure(FstabLineProblem(line: line, message: "has \(fields.count) fields, more than the six fstab has (a space in a name must be written \\040); the line is ignored"))
        }
        var numbers: [Int] = []
        for (index, name) in [(4, "dump frequency"), (5, "fsck pass number")] where index < fields.count {
            guard let value = Int(fields[index]), value >= 0 else {
                return .failure(FstabLineProblem(line: line, message: "its \(name) '\(fields[index])' is not a number; the line is ignored"))
            }
            numbers.append(value)
        }
        let options = fields.count > 3 ? splitOptions(unescape(fields[3])) : []
        let types = unescape(fields[2]).split(separator: ",").map(String.init)
        return .success(FstabEntry(line: line, spec: unescape(fields[0]), mountPoint: unescape(fields[1]),
                                   types: types, options: options,
                                   dumpFrequency: numbers.first ?? 0, passNumber: numbers.dropFirst().first ?? 0))
    }

    /// `\` followed by three octal digits is that byte; any other backslash stays as it is.
    static func unescape(_ field: String) -> String {
        BackslashEscapes.decode(field, width: 3) { digits in
            var value = 0
            for byte in digits {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7") else { return nil }
                value = value * 8 + Int(byte - UInt8(ascii: "0"))
            }
            return value <= 255 ? UInt8(value) : nil
        }
    }

    /// Commas inside double quotes belong to the value, as in `context="system_u:object_r:tmp_t:s0:c127,c456"`.
    static func splitOptions(_ text: String) -> [String] {
        var options: [String] = []
        var current = ""
        var quoted = false
        for character in text {
            if character == "\"" { quoted.toggle() }
            if character == ",", !quoted {
                if !current.isEmpty { options.append(current) }
                current = ""
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { options.append(current) }
        return options
    }
}
