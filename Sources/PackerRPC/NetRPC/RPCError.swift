/// Errors of the net/rpc layer. `remote` carries the peer's header Error text unchanged (Packer shows it
/// to the user); the others describe a broken or hostile peer.
public enum RPCError: Error, Equatable, CustomStringConvertible {
    case remote(String)
    case malformed(String)
    case connectionClosed(String)

    public var description: String {
        switch self {
        case .remote(let message): return message
        case .malformed(let why): return "rpc: malformed message: \(why)"
        case .connectionClosed(let why): return "rpc: connection closed: \(why)"
        }
    }
}

/// A handler's failure that goes into the response header as is, e.g. "build was cancelled".
public struct RPCFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
