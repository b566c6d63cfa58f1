import CNBD
import Glibc
import HostSystem
import Synchronization

/// Records the netlink messages an attach and detach would send, byte for byte (built by the same code as
/// NetlinkNBDControl), without touching the kernel. For tests of the request mapping.
public final class RecordingNBDControl: NBDKernelControl, Sendable {
    public let mechanism = "recording"
    public let family: Int32
    private let recorded = Mutex<(messages: [[UInt8]], sequence: UInt32)>(([], 0))
    private let assignedIndex: Int

    public var messages: [[UInt8]] { recorded.withLock { $0.messages } }

    /// `family` stands in for the dynamic family id; the kernel would "pick" `assignedIndex`.
    public init(family: Int32 = 0x1a, assignedIndex: Int = 0) {
        self.family = family
        self.assignedIndex = assignedIndex
    }

    public func attach(_ request: NBDKernelRequest) throws -> NBDDevice {
        defer { request.closeSockets() }
        try request.validate()
        _ = try record { buffer, capacity, sequence in
            request.withNetlinkRequest { cnbd_nl_connect_message($0, family, sequence, buffer, capacity) }
        }
        let index = request.deviceIndex ?? assignedIndex
        return NBDDevice(index: index, mechanism: mechanism, node: nil, holder: nil) { [self] in
            _ = try record { buffer, capacity, sequence in
                cnbd_nl_disconnect_message(UInt32(index), family, sequence, buffer, capacity)
            }
        }
    }

    /// Builds one message with the next sequence number and appends it to `messages`.
    private func record(_ build: (UnsafeMutablePointer<UInt8>, Int, UInt32) -> Int32) throws -> [UInt8] {
        try recorded.withLock { recorded in
            recorded.sequence += 1
            var buffer = [UInt8](repeating: 0, count: 4096)
            let sequence = recorded.sequence
            let length = try syscallNegativeErrno("build netlink message") { build(&buffer, buffer.count, sequence) }
            guard Int(length) <= buffer.count else { throw SystemError("build netlink message", errno: EMSGSIZE) }
            let message = Array(buffer.prefix(Int(length)))
            recorded.messages.append(message)
            return message
        }
    }
}
