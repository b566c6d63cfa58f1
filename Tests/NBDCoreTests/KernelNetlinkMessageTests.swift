import Glibc
import NBDCore
import Testing

/// The netlink requests, byte for byte, as built by the same code NetlinkNBDControl sends through libnl.
@Suite struct KernelNetlinkMessageTests {
    /// nbd-kernel.md §2.1: 64 MiB, block size 512, flags 0x0c6d, timeout 30, DISCONNECT_ON_CLOSE, fd 5,
    /// family 0x1a, seq 1. One difference, on purpose: libnl 3.7's nla_nest_start marks nests with
    /// NLA_F_NESTED (0x8000), so SOCKETS is 0x8007 and SOCK_ITEM 0x8001 where the reference has 0x0007/0x0001.
    /// The driver validates non-strictly and accepts both (checked in the VM tests).
    static let golden = hex("""
        60000000 1a00 0500 01000000 00000000  01 01 0000
        0c000200 0000000400000000  0c000300 0002000000000000  0c000500 6d0c000000000000
        0c000400 1e00000000000000  0c000600 0200000000000000
        1000 0780 0c00 0180 0800 0100 05000000
        """)

    @Test func connectMatchesGoldenVector() throws {
        let control = RecordingNBDControl(family: 0x1a)
        // A real descriptor (attach closes what it is given); its number replaces the vector's fd 5.
        let socket = try FileDescriptor.open("/dev/null", O_RDONLY)
        var expected = Self.golden
        withUnsafeBytes(of: UInt32(socket.rawValue).littleEndian) { expected.replaceSubrange(92..<96, with: $0) }
        let request = NBDKernelRequest(sockets: [socket], size: 64 << 20, blockSize: 512, serverFlags: 0x0c6d,
                                       timeoutSeconds: 30)
        let device = try control.attach(request)
        #expect(control.messages == [expected])
        #expect(socket.rawValue == -1, "attach closes our copy of the socket")

        try device.detach()
        try device.detach()
        // nlmsghdr (len 28, family, REQUEST|ACK, seq 2) + genlmsghdr (DISCONNECT, version 1) + INDEX 0.
        #expect(control.messages.last == hex("1c000000 1a00 0500 02000000 00000000 02 01 0000 08000100 00000000"))
        #expect(control.messages.count == 2, "detach is idempotent")
    }

    @Test func indexIdentifierAndReadOnlyAreSent() throws {
        let control = RecordingNBDControl(family: 0x20)
        let request = NBDKernelRequest(sockets: [try FileDescriptor.open("/dev/null", O_RDONLY)], size: 1 << 20,
                                       serverFlags: 0x0c6d, readOnly: true, backendIdentifier: "qemu-chroot:abc",
                                       deviceIndex: 3)
        let device = try control.attach(request)
        defer { try? device.detach() }
        #expect(device.index == 3)
        let message = try #require(control.messages.first)
        // INDEX first, right after the headers.
        #expect(Array(message[20..<28]) == hex("08000100 03000000"))
        // SERVER_FLAGS carries READ_ONLY (0x2) added to 0x0c6d.
        #expect(message.containsSequence(hex("0c000500 6f0c000000000000")))
        // BACKEND_IDENTIFIER (10): "qemu-chroot:abc" + NUL, padded to 4 bytes.
        #expect(message.containsSequence(hex("14000a00") + Array("qemu-chroot:abc".utf8) + [0]))
    }

    @Test func rejectsWhatTheKernelWouldRejectSilently() throws {
        let control = RecordingNBDControl()
        let twoSockets = [try FileDescriptor.open("/dev/null", O_RDONLY), try FileDescriptor.open("/dev/null", O_RDONLY)]
        let error = #expect(throws: NBDKernelError.self) {
            try control.attach(NBDKernelRequest(sockets: twoSockets, size: 1 << 20, serverFlags: 0x0c6d))
        }
        #expect(error?.description.contains("multi-conn") == true)
        #expect(throws: NBDKernelError.self) {
            try control.attach(NBDKernelRequest(sockets: [try FileDescriptor.open("/dev/null", O_RDONLY)],
                                                size: 1000, blockSize: 512, serverFlags: 1))
        }
        #expect(control.messages.isEmpty)
    }
}

func hex(_ text: String) -> [UInt8] {
    let digits = text.filter(\.isHexDigit).map { UInt8(String($0), radix: 16)! }
    return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
}

extension Array where Element == UInt8 {
    func containsSequence(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}
