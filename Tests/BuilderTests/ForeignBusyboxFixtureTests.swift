import Glibc
import NBDCore
import Testing
import TestSupport

/// The foreign busybox fixtures are what the cross-architecture tests think they are. `scripts/vm-nbd test` runs
/// this suite on the host before booting, so the VM's pre-6.7 checks (tests/vm/host-binfmt.sh) find the arm64 one
/// on a fresh machine too.
@Suite(.enabled(if: ForeignBusybox.requirements == nil, "\(ForeignBusybox.requirements ?? "")"))
struct ForeignBusyboxFixtureTests {
    @Test(.timeLimit(.minutes(5)))
    func arm64BusyboxIsAnAarch64StaticProgram() throws {
        let path = try ForeignBusybox.program(for: "arm64")
        #expect(access(path, X_OK) == 0)
        let file = try FileDescriptor.open(path, O_RDONLY)
        defer { try? file.close() }
        let header = try file.read(count: ELFIdentity.headerPrefix)
        let identity = try #require(ELFIdentity.parse(header), "\(path) is not an ELF program")
        #expect(identity.architecture == .arm64, "\(path): \(identity)")
    }
}
