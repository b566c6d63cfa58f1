import ImageLayout

/// A binfmt_misc handler that runs one architecture's programs through a qemu user-mode emulator, as the
/// line written to binfmt_misc's `register` file.
public struct BinfmtHandler: Sendable, Equatable {
    public let architecture: Architecture
    /// The emulator's host path: with the F flag the kernel opens it when the handler is registered, so it
    /// need not exist inside the image.
    public let interpreter: String
    public let name: String

    /// Nil when the architecture has no ELF identity to match, or the path cannot be written into a
    /// registration line (binfmt_misc splits fields on ':').
    public init?(architecture: Architecture, interpreter: String, name: String? = nil) {
        guard architecture.elfIdentity != nil, interpreter.hasPrefix("/"), !interpreter.contains(":"),
              !interpreter.contains(where: \.isNewline) else { return nil }
        self.architecture = architecture
        self.interpreter = interpreter
        self.name = name ?? "qemu-chroot-\(architecture.qemuName ?? architecture.rawValue)"
    }

    /// Flags: F opens the interpreter now (nothing is looked up in the chroot later); P passes the
    /// program's own argv[0] on (busybox applets, login shells); C runs setuid programs with the program's
    /// credentials, and implies O (the emulator gets the program as an open file).
    public static let flags = "FPC"

    /// `:name:M::magic:mask:interpreter:flags`.
    public var registration: String {
        ":\(name):M::\(Self.escaped(magic)):\(Self.escaped(mask)):\(interpreter):\(Self.flags)"
    }

    /// The ELF header up to e_machine: class, byte order and version 1, any OS ABI, e_type EXEC or DYN (the
    /// mask drops its low bit), and the machine.
    public var magic: [UInt8] { pattern.magic }
    public var mask: [UInt8] { pattern.mask }

    private var pattern: (magic: [UInt8], mask: [UInt8]) {
        // Non-nil: checked in init.
        guard let elf = architecture.elfIdentity else { return ([], []) }
        var magic: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, elf.is64Bit ? 2 : 1, elf.bigEndian ? 2 : 1, 1]
        var mask: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        magic += [UInt8](repeating: 0, count: 9)
        mask += [0x00] + [UInt8](repeating: 0xFF, count: 8)
        let type: [UInt8] = elf.bigEndian ? [0x00, 0x02] : [0x02, 0x00]
        let typeMask: [UInt8] = elf.bigEndian ? [0xFF, 0xFE] : [0xFE, 0xFF]
        let machine: [UInt8] = elf.bigEndian
            ? [UInt8(elf.machine >> 8), UInt8(elf.machine & 0xFF)] : [UInt8(elf.machine & 0xFF), UInt8(elf.machine >> 8)]
        magic += type + machine
        mask += typeMask + [0xFF, 0xFF]
        return (magic, mask)
    }

    private static func escaped(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return "\\x" + (hex.count == 1 ? "0" + hex : hex)
        }.joined()
    }
}
