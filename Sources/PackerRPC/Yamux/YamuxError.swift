/// Why a yamux session or stream stopped.
public enum YamuxError: Error, Equatable, CustomStringConvertible {
    case protocolViolation(String)
    case sessionClosed(String)
    case streamReset
    case streamClosed
    case goAwayReceived
    case timeout

    public var description: String {
        switch self {
        case .protocolViolation(let why): return "yamux protocol error: \(why)"
        case .sessionClosed(let why): return "yamux session closed: \(why)"
        case .streamReset: return "yamux stream reset by the peer"
        case .streamClosed: return "yamux stream already closed for writing"
        case .goAwayReceived: return "yamux: the peer refuses new streams (GoAway)"
        case .timeout: return "yamux: timed out"
        }
    }
}
