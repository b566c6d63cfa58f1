import Glibc
import NBDCore
import Testing

/// The ELF identity an image's architecture is read from, and the binfmt_misc line built from it.
struct LayoutELFIdentityTests {
    @Test func theHostsOwnProgramsAreTheHostsArchitecture() throws {
        let file = try FileDescriptor.open("/bin/true", O_RDONLY)
        defer { try? file.close() }
        let identity = try #require(ELFIdentity.parse(try file.read(count: ELFIdentity.headerPrefix)))
        #expect(identity.architecture == Architecture.host)
        #expect(Architecture.host.runsNatively())
    }

    @Test func headersOfOtherMachinesAndNonELF() {
        // e_ident of a 64-bit little-endian file, e_type EXEC, e_machine 183 (AArch64).
        let arm64: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8) + [2, 0, 183, 0]
        #expect(ELFIdentity.parse(arm64)?.architecture == .arm64)
        // s390x is big-endian: e_machine 22 in the high byte last.
        let s390x: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 2, 1, 0] + [UInt8](repeating: 0, count: 8) + [0, 2, 0, 22]
        #expect(ELFIdentity.parse(s390x)?.architecture == .s390x)
        #expect(ELFIdentity.parse(Array("#!/bin/sh\necho not a program\n".utf8)) == nil)
        #expect(ELFIdentity.parse(Array(arm64.prefix(10))) == nil)
        #expect(Architecture.x86.runsNatively(on: .x86_64))
        #expect(!Architecture.arm64.runsNatively(on: .x86_64))
        #expect(Architecture.arm.runsNatively(on: .arm64))
    }

    /// Magic and mask as Debian's qemu-user-static registers them (/usr/lib/binfmt.d/qemu-aarch64.conf),
    /// with our name, the emulator itself (F: opened at registration) and our flags.
    @Test func arm64RegistrationMatchesDebiansHandler() throws {
        let handler = try #require(BinfmtHandler(architecture: .arm64, interpreter: "/usr/bin/qemu-aarch64-static"))
        let magic = #"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"#
        let mask = #"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"#
        #expect(handler.registration == ":qemu-chroot-aarch64:M::\(magic):\(mask):/usr/bin/qemu-aarch64-static:FPC")
        #expect(BinfmtHandler(architecture: .arm64, interpreter: "/opt/a:b/qemu") == nil)
        #expect(BinfmtHandler(architecture: .arm64, interpreter: "relative/qemu") == nil)
    }

    @Test func aDynamicallyLinkedEmulatorIsRefused() throws {
        // /bin/true is dynamically linked on Debian; busybox-static is not.
        #expect(throws: EmulationError.self) { try EmulationPlan.emulator(for: .arm64, qemuBinary: "/bin/true") }
        if access("/bin/busybox", X_OK) == 0 {
            #expect(try EmulationPlan.emulator(for: .arm64, qemuBinary: "/bin/busybox") == "/bin/busybox")
        }
    }

    @Test func osReleaseNames() {
        let fields = OSReleaseFields.parse("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME='Debian 13'\n# comment\nID=debian\n")
        #expect(fields["PRETTY_NAME"] == "Debian 13")
        #expect(fields["NAME"] == "Debian GNU/Linux")
        #expect(fields["ID"] == "debian")
    }
}
