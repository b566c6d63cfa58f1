import HostSystem
@testable import PackerRPC
import Testing

@Suite(.timeLimit(.minutes(1))) struct BrokerTests {
    @Test func idsAreLittleEndianAndCountFromOne() {
        #expect(MuxBroker.encode(0x0102_0304) == [4, 3, 2, 1])
        #expect(MuxBroker.decode([4, 3, 2, 1]) == 0x0102_0304)
        let pair = try! YamuxPair()
        let broker = MuxBroker(session: pair.server)
        #expect(broker.nextID() == 1)
        #expect(broker.nextID() == 2)
    }

    @Test func dialAndAcceptBothWays() throws {
        let pair = try YamuxPair()
        let plugin = MuxBroker(session: pair.server), host = MuxBroker(session: pair.client)
        plugin.start(); host.start()
        let accepted = onThread { try plugin.accept(0) }
        let hostSide = try host.dial(0)
        let pluginSide = try accepted()
        try hostSide.write([42])
        #expect(try pluginSide.readExactly(1) == [42])
        let hostAccept = onThread { try host.accept(7) }
        let dialed = try plugin.dial(7)
        try dialed.write([9])
        #expect(try hostAccept().readExactly(1) == [9])
    }

    @Test func streamsArrivingBeforeAcceptAreQueued() throws {
        let pair = try YamuxPair()
        let plugin = MuxBroker(session: pair.server), host = MuxBroker(session: pair.client)
        plugin.start(); host.start()
        let early = onThread { try host.dial(3) }
        HostThread.sleep(0.2)
        let stream = try plugin.accept(3)
        _ = try early()
        #expect(stream.id % 2 == 1)
    }

    @Test func acceptTimesOutWhenNobodyDials() throws {
        let pair = try YamuxPair()
        let plugin = MuxBroker(session: pair.server)
        plugin.start()
        #expect(throws: BrokerError.acceptTimeout(5)) { try plugin.accept(5, timeout: 0.3) }
    }

    @Test func acceptFailsWhenTheSessionDies() throws {
        let pair = try YamuxPair()
        let plugin = MuxBroker(session: pair.server)
        plugin.start()
        let waiting = onThread { try plugin.accept(1) }
        pair.client.close()
        #expect(throws: YamuxError.self) { try waiting() }
    }
}
