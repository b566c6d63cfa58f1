/// The part of an ELF header that says which machine a program is for: its class (32 or 64 bit), byte
/// order and `e_machine`. Enough to tell an image's architecture from its /bin/sh, and to build the
/// binfmt_misc magic that matches that architecture's programs.
public struct ELFIdentity: Equatable, Sendable {
    public let is64Bit: Bool
    public let bigEndian: Bool
    public let machine: UInt16

    public init(is64Bit: Bool, bigEndian: Bool, machine: UInt16) {
        (self.is64Bit, self.bigEndian, self.machine) = (is64Bit, bigEndian, machine)
    }

    /// Bytes of the header `parse` needs: e_ident (16), e_type (2), e_machine (2).
    public static let headerPrefix = 20

    /// Reads the first `headerPrefix` bytes of a file; nil when they are not an ELF header of a known class
    /// and byte order (a script, a truncated file).
    public static func parse(_ bytes: [UInt8]) -> ELFIdentity? {
        guard bytes.count >= headerPrefix, bytes[0..<4].elementsEqual([0x7F, 0x45, 0x4C, 0x46]) else { return nil }
        guard (1...2).contains(bytes[4]), (1...2).contains(bytes[5]) else { return nil }
        let bigEndian = bytes[5] == 2
        let machine = bigEndian ? UInt16(bytes[18]) << 8 | UInt16(bytes[19]) : UInt16(bytes[19]) << 8 | UInt16(bytes[18])
        return ELFIdentity(is64Bit: bytes[4] == 2, bigEndian: bigEndian, machine: machine)
    }

    /// Whether the program whose first bytes are `header` names a program interpreter (PT_INTERP: it is
    /// dynamically linked); `programHeaders` reads `count` bytes at an offset of the file. Nil when the
    /// header cannot be read as this identity's ELF.
    public static func namesInterpreter(header: [UInt8], programHeaders: (_ offset: UInt64, _ count: Int) -> [UInt8]?) -> Bool? {
        guard let identity = parse(header), header.count >= 64 || (!identity.is64Bit && header.count >= 52) else { return nil }
        func field(_ offset: Int, _ size: Int, in bytes: [UInt8]) -> UInt64 {
            let slice = bytes[offset..<offset + size]
            return (identity.bigEndian ? Array(slice) : slice.reversed()).reduce(0) { $0 << 8 | UInt64($1) }
        }
        // e_phoff, e_phentsize, e_phnum: at 32, 54, 56 in ELF64; 28, 42, 44 in ELF32.
        let (tableOffset, entrySize, count) = identity.is64Bit
            ? (field(32, 8, in: header), Int(field(54, 2, in: header)), Int(field(56, 2, in: header)))
            : (field(28, 4, in: header), Int(field(42, 2, in: header)), Int(field(44, 2, in: header)))
        guard entrySize >= 4, count <= 4096, let table = programHeaders(tableOffset, entrySize * count),
              table.count == entrySize * count else { return nil }
        let ptInterp: UInt64 = 3
        return (0..<count).contains { field($0 * entrySize, 4, in: table) == ptInterp }
    }

    /// The architecture these programs are for; nil for a machine we have no name for.
    public var architecture: Architecture? {
        Architecture.allCases.first { $0.elfIdentity == self }
    }

    /// "64-bit little-endian ELF for machine 183".
    public var description: String {
        "\(is64Bit ? 64 : 32)-bit \(bigEndian ? "big" : "little")-endian ELF for machine \(machine)"
    }
}

extension Architecture {
    /// What this architecture's programs say in their ELF header (e_machine values from elf.h).
    public var elfIdentity: ELFIdentity? {
        switch self {
        case .x86: return ELFIdentity(is64Bit: false, bigEndian: false, machine: 3)
        case .x86_64: return ELFIdentity(is64Bit: true, bigEndian: false, machine: 62)
        case .arm: return ELFIdentity(is64Bit: false, bigEndian: false, machine: 40)
        case .arm64: return ELFIdentity(is64Bit: true, bigEndian: false, machine: 183)
        case .ppc: return ELFIdentity(is64Bit: false, bigEndian: true, machine: 20)
        case .ppc64: return ELFIdentity(is64Bit: true, bigEndian: true, machine: 21)
        case .ppc64le: return ELFIdentity(is64Bit: true, bigEndian: false, machine: 21)
        case .riscv32: return ELFIdentity(is64Bit: false, bigEndian: false, machine: 243)
        case .riscv64: return ELFIdentity(is64Bit: true, bigEndian: false, machine: 243)
        case .s390: return ELFIdentity(is64Bit: false, bigEndian: true, machine: 22)
        case .s390x: return ELFIdentity(is64Bit: true, bigEndian: true, machine: 22)
        case .loongarch64: return ELFIdentity(is64Bit: true, bigEndian: false, machine: 258)
        case .mipsLE: return ELFIdentity(is64Bit: false, bigEndian: false, machine: 8)
        case .mips64LE: return ELFIdentity(is64Bit: true, bigEndian: false, machine: 8)
        case .alpha: return ELFIdentity(is64Bit: true, bigEndian: false, machine: 0x9026)
        case .ia64: return ELFIdentity(is64Bit: true, bigEndian: false, machine: 50)
        case .parisc: return ELFIdentity(is64Bit: false, bigEndian: true, machine: 15)
        case .arc, .tilegx: return nil
        }
    }

    /// The suffix of the qemu user-mode emulator for this architecture (qemu-<name>-static); nil where
    /// qemu has none we can register without ambiguity (MIPS: o32 and n32 share a header class).
    public var qemuName: String? {
        switch self {
        case .x86: return "i386"
        case .x86_64: return "x86_64"
        case .arm: return "arm"
        case .arm64: return "aarch64"
        case .ppc: return "ppc"
        case .ppc64: return "ppc64"
        case .ppc64le: return "ppc64le"
        case .riscv32: return "riscv32"
        case .riscv64: return "riscv64"
        case .s390x: return "s390x"
        case .loongarch64: return "loongarch64"
        case .alpha: return "alpha"
        case .parisc: return "hppa"
        case .s390, .mipsLE, .mips64LE, .ia64, .arc, .tilegx: return nil
        }
    }

    /// The host runs this architecture's programs itself: its own, and the 32-bit one it has a compat mode
    /// for (i386 on x86-64, arm on arm64).
    public func runsNatively(on host: Architecture = .host) -> Bool {
        self == host || (host == .x86_64 && self == .x86) || (host == .arm64 && self == .arm)
    }
}
