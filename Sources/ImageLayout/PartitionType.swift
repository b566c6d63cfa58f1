/// What a partition's type field says: a GPT type GUID or an MBR type byte, its name, and its role under
/// the Discoverable Partitions Specification (DPS).
public struct PartitionType: Hashable, Sendable {
    public enum Code: Hashable, Sendable {
        case gpt(GUID)
        case mbr(UInt8)
    }

    public let code: Code

    public init(_ code: Code) { self.code = code }

    /// The code as tools print it: an uppercase GUID for GPT (as sfdisk), two hex digits for MBR.
    public var codeText: String {
        switch code {
        case .gpt(let guid): return guid.description.uppercased()
        case .mbr(let byte): return String(byte, radix: 16)
        }
    }

    public var name: String {
        switch code {
        case .gpt(let guid): return PartitionType.gptNames[guid.description] ?? "unknown"
        case .mbr(let byte): return PartitionType.mbrNames[byte] ?? "unknown"
        }
    }

    public var role: DPSRole? {
        guard case .gpt(let guid) = code else {
            if case .mbr(let byte) = code { return PartitionType.mbrRoles[byte] }
            return nil
        }
        return PartitionType.gptRoles[guid.description]
    }

    /// An MBR entry that only links logical partitions (0x05 CHS, 0x0F LBA, 0x85 Linux extended).
    public var isExtendedContainer: Bool {
        if case .mbr(let byte) = code { return [0x05, 0x0F, 0x85].contains(byte) }
        return false
    }

    /// The DPS root type GUID of `architecture`, in lowercase text.
    public static func rootType(for architecture: Architecture) -> String? {
        gptTable.first { $0.2 == .root(architecture) }?.0
    }

    // MARK: Tables (GUIDs checked against `sfdisk --label gpt -T`)

    private static let gptTable: [(String, String, DPSRole?)] = [
        ("c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "EFI System", .esp),
        ("bc13c2ff-59e6-4262-a352-b275fd6f7172", "Linux extended boot (XBOOTLDR)", .xbootldr),
        ("21686148-6449-6e6f-744e-656564454649", "BIOS boot", nil),
        ("0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", "Linux swap", .swap),
        ("0fc63daf-8483-4772-8e79-3d69d8477de4", "Linux filesystem", .linuxGeneric),
        ("933ac7e1-2eb4-4f13-b844-0e14e2aef915", "Linux home", .home),
        ("3b8f8425-20e0-4f3b-907f-1a25a76f98e8", "Linux server data", .srv),
        ("4d21b016-b534-45c2-a9fb-5c16e091fd2d", "Linux variable data", .variable),
        ("7ec6f557-3bc5-4aca-b293-16ef5df639d1", "Linux temporary data", .variableTemporary),
        ("e6d6d379-f507-44c2-a23c-238f2a3df928", "Linux LVM", nil),
        ("a19d880f-05fc-4d3b-a006-743f0f84911e", "Linux RAID", nil),
        ("ebd0a0a2-b9e5-4433-87c0-68b6b72699c7", "Microsoft basic data", nil),
        ("e3c9e316-0b5c-4db8-817d-f92df00215ae", "Microsoft reserved", nil),
        // Root and /usr types of every architecture in systemd's sd-gpt.h (the DPS): an image's root is
        // recognised by the image's architecture, whatever the host runs.
        ("6523f8ae-3eb1-4e2a-a05a-18b695ae656f", "Linux root (Alpha)", .root(.alpha)),
        ("d27f46ed-2919-4cb8-bd25-9531f3c16534", "Linux root (ARC)", .root(.arc)),
        ("69dad710-2ce4-4e3c-b16c-21a1d49abed3", "Linux root (ARM)", .root(.arm)),
        ("b921b045-1df0-41c3-af44-4c6f280d3fae", "Linux root (ARM-64)", .root(.arm64)),
        ("993d8d3d-f80e-4225-855a-9daf8ed7ea97", "Linux root (IA-64)", .root(.ia64)),
        ("77055800-792c-4f94-b39a-98c91b762bb6", "Linux root (LoongArch-64)", .root(.loongarch64)),
        ("37c58c8a-d913-4156-a25f-48b1b64e07f0", "Linux root (MIPS LE)", .root(.mipsLE)),
        ("700bda43-7a34-4507-b179-eeb93d7a7ca3", "Linux root (MIPS64 LE)", .root(.mips64LE)),
        ("1aacdb3b-5444-4138-bd9e-e5c2239b2346", "Linux root (PA-RISC)", .root(.parisc)),
        ("1de3f1ef-fa98-47b5-8dcd-4a860a654d78", "Linux root (PPC)", .root(.ppc)),
        ("912ade1d-a839-4913-8964-a10eee08fbd2", "Linux root (PPC64)", .root(.ppc64)),
        ("c31c45e6-3f39-412e-80fb-4809c4980599", "Linux root (PPC64LE)", .root(.ppc64le)),
        ("60d5a7fe-8e7d-435c-b714-3dd8162144e1", "Linux root (RISC-V-32)", .root(.riscv32)),
        ("72ec70a6-cf74-40e6-bd49-4bda08e8f224", "Linux root (RISC-V-64)", .root(.riscv64)),
        ("08a7acea-624c-4a20-91e8-6e0fa67d23f9", "Linux root (S390)", .root(.s390)),
        ("5eead9a9-fe09-4a1e-a1d7-520d00531306", "Linux root (S390X)", .root(.s390x)),
        ("c50cdd70-3862-4cc3-90e1-809a8c93ee2c", "Linux root (TILE-Gx)", .root(.tilegx)),
        ("44479540-f297-41b2-9af7-d131d5f0458a", "Linux root (x86)", .root(.x86)),
        ("4f68bce3-e8cd-4db1-96e7-fbcaf984b709", "Linux root (x86-64)", .root(.x86_64)),
        ("e18cf08c-33ec-4c0d-8246-c6c6fb3da024", "Linux /usr (Alpha)", .usr(.alpha)),
        ("7978a683-6316-4922-bbee-38bff5a2fecc", "Linux /usr (ARC)", .usr(.arc)),
        ("7d0359a3-02b3-4f0a-865c-654403e70625", "Linux /usr (ARM)", .usr(.arm)),
        ("b0e01050-ee5f-4390-949a-9101b17104e9", "Linux /usr (ARM-64)", .usr(.arm64)),
        ("4301d2a6-4e3b-4b2a-bb94-9e0b2c4225ea", "Linux /usr (IA-64)", .usr(.ia64)),
        ("e611c702-575c-4cbe-9a46-434fa0bf7e3f", "Linux /usr (LoongArch-64)", .usr(.loongarch64)),
        ("0f4868e9-9952-4706-979f-3ed3a473e947", "Linux /usr (MIPS LE)", .usr(.mipsLE)),
        ("c97c1f32-ba06-40b4-9f22-236061b08aa8", "Linux /usr (MIPS64 LE)", .usr(.mips64LE)),
        ("dc4a4480-6917-4262-a4ec-db9384949f25", "Linux /usr (PA-RISC)", .usr(.parisc)),
        ("7d14fec5-cc71-415d-9d6c-06bf0b3c3eaf", "Linux /usr (PPC)", .usr(.ppc)),
        ("2c9739e2-f068-46b3-9fd0-01c5a9afbcca", "Linux /usr (PPC64)", .usr(.ppc64)),
        ("15bb03af-77e7-4d4a-b12b-c0d084f7491c", "Linux /usr (PPC64LE)", .usr(.ppc64le)),
        ("b933fb22-5c3f-4f91-af90-e2bb0fa50702", "Linux /usr (RISC-V-32)", .usr(.riscv32)),
        ("beaec34b-8442-439b-a40b-984381ed097d", "Linux /usr (RISC-V-64)", .usr(.riscv64)),
        ("cd0f869b-d0fb-4ca0-b141-9ea87cc78d66", "Linux /usr (S390)", .usr(.s390)),
        ("8a4f5770-50aa-4ed3-874a-99b710db6fea", "Linux /usr (S390X)", .usr(.s390x)),
        ("55497029-c7c1-44cc-aa39-815ed1558630", "Linux /usr (TILE-Gx)", .usr(.tilegx)),
        ("75250d76-8cc6-458e-bd66-bd47cc81a812", "Linux /usr (x86)", .usr(.x86)),
        ("8484680c-9521-48c6-9c11-b0720656f69e", "Linux /usr (x86-64)", .usr(.x86_64)),
    ]
    private static let gptNames = Dictionary(uniqueKeysWithValues: gptTable.map { ($0.0, $0.1) })
    private static let gptRoles = Dictionary(uniqueKeysWithValues: gptTable.compactMap { entry in
        entry.2.map { (entry.0, $0) }
    })

    private static let mbrNames: [UInt8: String] = [
        0x01: "FAT12", 0x04: "FAT16 <32M", 0x05: "Extended", 0x06: "FAT16", 0x07: "HPFS/NTFS/exFAT",
        0x0b: "W95 FAT32", 0x0c: "W95 FAT32 (LBA)", 0x0e: "W95 FAT16 (LBA)", 0x0f: "W95 Ext'd (LBA)",
        0x82: "Linux swap / Solaris", 0x83: "Linux", 0x85: "Linux extended", 0x8e: "Linux LVM",
        0xa5: "FreeBSD", 0xee: "GPT", 0xef: "EFI (FAT-12/16/32)", 0xfd: "Linux raid autodetect",
    ]
    private static let mbrRoles: [UInt8: DPSRole] = [0x83: .linuxGeneric, 0x82: .swap, 0xef: .esp]
}

/// CPU architectures that have their own DPS root and /usr type GUIDs.
public enum Architecture: String, Sendable, CaseIterable {
    case x86, x86_64 = "x86-64", arm, arm64, ppc64le, riscv64, s390x, loongarch64
    case alpha, arc, ia64, mipsLE = "mips-le", mips64LE = "mips64-le", parisc, ppc, ppc64, riscv32, s390, tilegx

    /// The architecture this program runs on, whose DPS root the default root rule prefers.
    public static var host: Architecture {
        #if arch(x86_64)
        return .x86_64
        #elseif arch(arm64)
        return .arm64
        #elseif arch(i386)
        return .x86
        #elseif arch(arm)
        return .arm
        #elseif arch(powerpc64le)
        return .ppc64le
        #elseif arch(s390x)
        return .s390x
        #else
        return .riscv64
        #endif
    }
}

/// A partition's purpose under the Discoverable Partitions Specification.
public enum DPSRole: Hashable, Sendable, CustomStringConvertible {
    case root(Architecture), usr(Architecture)
    case esp, xbootldr, swap, home, srv, variable, variableTemporary, linuxGeneric

    /// A root partition of any architecture.
    public var isRoot: Bool {
        if case .root = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .root(let arch): return "root-\(arch.rawValue)"
        case .usr(let arch): return "usr-\(arch.rawValue)"
        case .esp: return "esp"
        case .xbootldr: return "xbootldr"
        case .swap: return "swap"
        case .home: return "home"
        case .srv: return "srv"
        case .variable: return "var"
        case .variableTemporary: return "var-tmp"
        case .linuxGeneric: return "linux-generic"
        }
    }
}
