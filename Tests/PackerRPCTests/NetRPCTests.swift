import HostSystem
@testable import PackerRPC
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1))) struct NetRPCTests {
    /// A server on the plugin side of a stream, the client on the host side.
    private func connected(_ register: (RPCServer) -> Void) throws -> Connected {
        let pair = try YamuxPair()
        let accepted = onThread { try pair.server.accept(timeout: 5) }
        let hostStream = try pair.client.open()
        let server = RPCServer(stream: try accepted())
        register(server)
        server.serveInBackground()
        return Connected(pair: pair, client: RPCClient(stream: hostStream))
    }

    @Test func callAndReplyWireFormat() throws {
        let connection = try connected { server in
            server.register("Ui.Say") { body in .string("said \(body.stringValue ?? "")") }
        }
        #expect(try connection.client.call("Ui.Say", .string("hi")) == .string("said hi"))
    }

    @Test func requestBytesMatchGo() throws {
        let pair = try YamuxPair()
        let accepted = onThread { try pair.server.accept(timeout: 5) }
        let client = RPCClient(stream: try pair.client.open())
        let call = onThread { try client.call("Ui.Say", .string("x")) }
        let stream = try accepted()
        let expected = hex("82 ad" + ascii("ServiceMethod") + "a6" + ascii("Ui.Say") + "a3" + ascii("Seq") + "00 a178")
        #expect(try stream.readExactly(expected.count) == expected)
        let reply = hex("83 ad" + ascii("ServiceMethod") + "a6" + ascii("Ui.Say") + "a3" + ascii("Seq") + "00 a5"
            + ascii("Error") + "a0 c0")
        try stream.write(reply)
        #expect(try call() == .nil)
    }

    @Test func concurrentCallsAreMatchedBySeq() throws {
        let connection = try connected { server in
            server.register("Slow.Echo") { body in
                // Later calls finish first, so replies come back out of order.
                HostThread.sleep(Double(10 - (body.integerValue ?? 0)) * 0.02)
                return body
            }
        }
        let calls = (0..<10).map { index in onThread { try connection.client.call("Slow.Echo", .uint(UInt64(index))) } }
        for (index, call) in calls.enumerated() { #expect(try call() == .uint(UInt64(index))) }
    }

    @Test func unknownMethodsGetGoErrorTexts() throws {
        let connection = try connected { server in server.register("Ui.Say") { _ in .nil } }
        #expect(throws: RPCError.remote("rpc: can't find method Ui.Bogus")) { try connection.client.call("Ui.Bogus") }
        #expect(throws: RPCError.remote("rpc: can't find service Nope.Say")) { try connection.client.call("Nope.Say") }
        #expect(throws: RPCError.remote("rpc: service/method request ill-formed: nodot")) { try connection.client.call("nodot") }
        // The stream stays usable after errors.
        #expect(try connection.client.call("Ui.Say") == .nil)
    }

    @Test func handlerErrorsGoInTheHeader() throws {
        let connection = try connected { server in
            server.register("Artifact.Destroy") { _ in throw RPCFailure("cannot delete") }
        }
        #expect(throws: RPCError.remote("cannot delete")) { try connection.client.call("Artifact.Destroy") }
    }

    @Test func hostileRequestsEndTheStreamNotTheProcess() throws {
        for garbage in [hex("c1"), hex("93 01 02 03 c0"), hex("81 a3" + ascii("Seq") + "00 c0"),
                        hex("82 ad" + ascii("ServiceMethod") + "a1 78 a3" + ascii("Seq") + "00 dbfffffff0")] {
            let pair = try YamuxPair()
            let accepted = onThread { try pair.server.accept(timeout: 5) }
            let hostStream = try pair.client.open()
            let server = RPCServer(stream: try accepted())
            let serving = onThread { try server.serve() }
            try hostStream.write(garbage)
            #expect(throws: (any Error).self) { try serving() }
            #expect(throws: YamuxError.streamReset) { try hostStream.read(max: 1) }
        }
    }

    @Test func pendingCallsFailWhenTheConnectionDrops() throws {
        let connection = try connected { server in
            server.register("Builder.Run") { _ in HostThread.sleep(30); return .nil }
        }
        let call = onThread { try connection.client.call("Builder.Run", .uint(1)) }
        HostThread.sleep(0.1)
        connection.pair.server.close()
        #expect(throws: (any Error).self) { try call() }
        #expect(throws: (any Error).self) { try connection.client.call("Builder.Run") }
    }
}

/// Keeps the sessions alive as long as the test uses the client.
private struct Connected {
    let pair: YamuxPair
    let client: RPCClient
}

@Suite(.timeLimit(.minutes(1))) struct NetRPCFloodTests {
    @Test func aFloodOfSlowRequestsIsServedWithBoundedConcurrency() throws {
        let pair = try YamuxPair()
        let accepted = onThread { try pair.server.accept(timeout: 5) }
        let client = RPCClient(stream: try pair.client.open())
        let server = RPCServer(stream: try accepted())
        let load = Load()
        server.register("Slow.Call") { body in
            load.counts.withLock { $0.running += 1; $0.peak = max($0.peak, $0.running) }
            HostThread.sleep(0.01)
            load.counts.withLock { $0.running -= 1 }
            return body
        }
        server.serveInBackground()
        let calls = (0..<200).map { index in onThread { try client.call("Slow.Call", .uint(UInt64(index))) } }
        for (index, call) in calls.enumerated() { #expect(try call() == .uint(UInt64(index))) }
        #expect(load.counts.withLock { $0.peak } <= RPCServer.maxInFlight)
    }

    private final class Load: Sendable {
        let counts = Mutex<(running: Int, peak: Int)>((0, 0))
    }
}
