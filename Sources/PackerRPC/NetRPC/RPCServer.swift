import HostSystem
import Synchronization

/// Go's net/rpc server with Packer's msgpack codec on one yamux stream. Each request is a header
/// `{ServiceMethod, Seq}` followed by a body; each runs on its own thread (Packer calls Builder.Cancel
/// while Builder.Run is pending) and its response header + body are written in one piece.
// @unchecked: `inFlight` is guarded by `slots`, a pthread mutex + condition (Synchronization.Mutex cannot be
// waited on), which the compiler cannot relate to it; every access is inside slots.withLock.
public final class RPCServer: @unchecked Sendable {
    public typealias Handler = @Sendable (MsgPackValue) throws -> MsgPackValue
    public typealias Fallback = @Sendable (String) -> Handler?

    private let stream: YamuxStream
    private let handlers = Mutex<[String: Handler]>([:])
    private let writeLock = Monitor()
    /// Requests running at once; more wait (the stream is not read meanwhile), so a flood of requests
    /// cannot create unbounded threads. Packer has at most a few in flight (Run + Cancel, Ui calls).
    static let maxInFlight = 32
    private let slots = Monitor()
    private var inFlight = 0

    /// Consulted for methods not registered, e.g. to forward `Ui<N>.Add` progress calls to the host.
    public var fallback: Fallback? {
        get { fallbackHandler.withLock { $0 } }
        set { fallbackHandler.withLock { $0 = newValue } }
    }
    private let fallbackHandler = Mutex<Fallback?>(nil)

    public init(stream: YamuxStream) { self.stream = stream }

    /// Registers `Service.Method`. Call before `serve`.
    public func register(_ serviceMethod: String, _ handler: @escaping Handler) {
        handlers.withLock { $0[serviceMethod] = handler }
    }

    /// Serves until the stream ends (returns normally) or the peer sends something that is not a
    /// net/rpc request (throws after resetting the stream).
    public func serve() throws {
        var input = StreamInput(stream)
        let decoder = MsgPackDecoder()
        do {
            while try !input.atEnd() {
                let header = try decoder.decode(from: &input)
                let body = try decoder.decode(from: &input)
                guard let method = header["ServiceMethod"]?.stringValue, let seq = header["Seq"],
                      seq.integerValue != nil else {
                    throw RPCError.malformed("request header is not {ServiceMethod, Seq}")
                }
                dispatch(method: method, seq: seq, body: body)
            }
        } catch {
            if case .some(YamuxError.sessionClosed) = error as? YamuxError { return }
            Log.debug("rpc server on stream \(stream.id): \(error)")
            stream.abort()
            throw error
        }
    }

    /// Serves on a background thread.
    public func serveInBackground() {
        HostThread.detach { [self] in _ = try? serve() }
    }

    private func dispatch(method: String, seq: MsgPackValue, body: MsgPackValue) {
        let registered = handlers.withLock { $0 }
        guard let handler = registered[method] ?? fallback?(method) else {
            respond(method: method, seq: seq, reply: .map([]), error: Self.lookupError(method, known: registered.keys))
            return
        }
        slots.withLock {
            while inFlight >= Self.maxInFlight { slots.wait() }
            inFlight += 1
        }
        HostThread.detach { [self] in
            do {
                respond(method: method, seq: seq, reply: try handler(body), error: "")
            } catch {
                respond(method: method, seq: seq, reply: .map([]), error: "\(error)")
            }
            slots.withLock { inFlight -= 1; slots.broadcast() }
        }
    }

    /// The texts of Go's net/rpc, which Packer logs and tests match.
    static func lookupError(_ method: String, known: Dictionary<String, Handler>.Keys) -> String {
        guard let dot = method.lastIndex(of: "."), dot != method.startIndex else {
            return "rpc: service/method request ill-formed: \(method)"
        }
        let service = method[..<dot]
        let serviceKnown = known.contains { $0.hasPrefix(service + ".") }
        return serviceKnown ? "rpc: can't find method \(method)" : "rpc: can't find service \(method)"
    }

    private func respond(method: String, seq: MsgPackValue, reply: MsgPackValue, error: String) {
        var bytes = MsgPackEncoder.encode(.object([
            "ServiceMethod": .string(method), "Seq": seq, "Error": .string(error),
        ]))
        MsgPackEncoder.encode(reply, into: &bytes)
        writeLock.withLock {
            do { try stream.write(bytes) } catch { Log.debug("rpc server on stream \(stream.id): reply to \(method): \(error)") }
        }
    }
}
