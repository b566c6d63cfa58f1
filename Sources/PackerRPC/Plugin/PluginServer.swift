import HostSystem

/// One plugin process's life after the handshake: yamux + broker on Packer's connection, the Builder
/// service on broker id 0, until Packer disconnects (it normally SIGKILLs us instead). When the
/// connection drops mid-build, the build is cancelled and its cleanup finishes before we return.
public enum PluginServer {
    public static func serve(_ builder: PluginBuilder, on connection: Connection, specEncoding: ConfigSpec.Encoding = .gob) throws {
        let session = YamuxSession(connection: connection)
        session.start()
        let broker = MuxBroker(session: session)
        broker.start()
        let service = BuilderService(builder: builder, broker: broker, specEncoding: specEncoding)
        let server = RPCServer(stream: try broker.accept(0, timeout: 60))
        service.register(on: server)
        HostThread.detach { _ = try? server.serve() }
        session.waitUntilStopped()
        Log.debug("packer connection ended: \(session.closeReason.map { "\($0)" } ?? "")")
        service.cancelAndWait("Packer went away")
    }
}
