/// What reading a binfmt_misc entry (`/proc/sys/fs/binfmt_misc/<name>`) shows, as fs/binfmt_misc.c's
/// entry_status writes it:
///
///     enabled
///     interpreter /usr/bin/qemu-aarch64-static
///     flags: POCF
///     offset 0
///     magic 7f454c460201010000000000000000000200b700
///     mask ffffffffffffff00fffffffffffffffffeffffff
///
/// Used to tell whether an entry with our name is exactly the handler we would register (left by a killed
/// run) before removing or sharing it.
public struct BinfmtEntry: Sendable, Equatable, CustomStringConvertible {
    public var enabled: Bool
    public var interpreter: String
    /// The kernel prints them in the order P, O, C, F; `C` registers as C and O.
    public var flags: Set<Character>
    public var offset: Int
    /// Lowercase hex, as the kernel prints it; nil for an extension entry.
    public var magic: String?
    /// nil when the entry matches its magic exactly (or is an extension entry).
    public var mask: String?
    /// The file name suffix of an extension (`E`) entry.
    public var fileExtension: String?

    public init(enabled: Bool, interpreter: String, flags: Set<Character>, offset: Int, magic: String?, mask: String?,
                fileExtension: String? = nil) {
        (self.enabled, self.interpreter, self.flags, self.offset) = (enabled, interpreter, flags, offset)
        (self.magic, self.mask, self.fileExtension) = (magic, mask, fileExtension)
    }

    /// What the kernel shows for `handler` once registered.
    public init(registering handler: BinfmtHandler) {
        var flags = Set(BinfmtHandler.flags)
        if flags.contains("C") { flags.insert("O") }
        self.init(enabled: true, interpreter: handler.interpreter, flags: flags, offset: 0,
                  magic: Self.hex(handler.magic), mask: Self.hex(handler.mask))
    }

    /// nil when `text` is not an entry's status (no enabled/disabled line, no interpreter, neither magic nor
    /// extension).
    public init?(parsing text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard let state = lines.first, state == "enabled" || state == "disabled" else { return nil }
        var interpreter: String?
        var flags: Set<Character> = []
        var offset = 0
        var magic: String?, mask: String?, fileExtension: String?
        for line in lines.dropFirst() {
            let (key, value) = Self.field(line)
            switch key {
            case "interpreter": interpreter = value
            case "flags:": flags = Set(value)
            case "offset":
                guard let number = Int(value) else { return nil }
                offset = number
            case "magic": magic = value.lowercased()
            case "mask": mask = value.lowercased()
            case "extension": fileExtension = value.hasPrefix(".") ? String(value.dropFirst()) : value
            default: continue
            }
        }
        guard let interpreter, magic != nil || fileExtension != nil else { return nil }
        self.init(enabled: state == "enabled", interpreter: interpreter, flags: flags, offset: offset, magic: magic,
                  mask: mask, fileExtension: fileExtension)
    }

    /// "interpreter /usr/bin/qemu-aarch64-static, flags POCF, magic 7f45...": for messages.
    public var description: String {
        var parts = [enabled ? "enabled" : "disabled", "interpreter \(interpreter)",
                     "flags \(Self.flagOrder.filter(flags.contains).map(String.init).joined())"]
        if let magic { parts.append("offset \(offset) magic \(magic)" + (mask.map { " mask \($0)" } ?? "")) }
        if let fileExtension { parts.append("extension .\(fileExtension)") }
        return parts.joined(separator: ", ")
    }

    private static let flagOrder: [Character] = ["P", "O", "C", "F"]

    private static func field(_ line: Substring) -> (String, String) {
        guard let space = line.firstIndex(of: " ") else { return (String(line), "") }
        return (String(line[..<space]), String(line[line.index(after: space)...]))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}
