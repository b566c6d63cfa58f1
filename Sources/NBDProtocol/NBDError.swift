import Glibc
import HostSystem

/// A failure talking NBD, as a sentence that says what happened and, where it is the server's doing, what
/// the server said. `kind` is for matching; `errno` carries the server's or the system's error number.
public struct NBDError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The server broke the protocol (bad magic, unknown cookie, a length that does not fit...). The
        /// connection is unusable afterwards.
        case protocolViolation
        /// The server sent nothing for longer than the timeout while we waited for it.
        case timeout
        /// The server closed the connection.
        case closed
        /// The server refused an option during the handshake (unknown export, policy, TLS required...).
        case refused
        /// The server answered a command with an error; the connection is still usable.
        case commandFailed
        /// The export or the connection does not support what was asked (read-only, no TRIM, no SR...).
        case unsupported
        /// The request itself is wrong (past the end, misaligned, zero length).
        case invalidRequest
        /// A system call on the socket failed.
        case system
    }

    public let kind: Kind
    public let message: String
    public let errno: Int32?

    public init(_ kind: Kind, _ message: String, errno: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.errno = errno
    }

    public var description: String {
        guard let errno, kind == .commandFailed || kind == .system else { return "nbd: \(message)" }
        return "nbd: \(message) (\(Errno.name(errno)))"
    }

    /// Maps an NBD error number to the local errno, as the spec asks: unknown values count as EINVAL.
    static func localErrno(fromWire value: UInt32) -> Int32 {
        switch value {
        case 1: return EPERM
        case 5: return EIO
        case 12: return ENOMEM
        case 22: return EINVAL
        case 28: return ENOSPC
        case 75: return EOVERFLOW
        case 95: return ENOTSUP
        case 108: return ESHUTDOWN
        default: return EINVAL
        }
    }
}
