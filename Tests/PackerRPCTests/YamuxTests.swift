import HostSystem
@testable import PackerRPC
import Testing

@Suite(.timeLimit(.minutes(1))) struct YamuxTests {
    @Test func headerLayout() throws {
        let frame = YamuxFrame(.windowUpdate, .syn, stream: 1, length: 0)
        #expect(frame.header == hex("00 01 0001 00000001 00000000"))
        #expect(try YamuxFrame(header: hex("00 00 0004 00000002 00000010")) == YamuxFrame(.data, .fin, stream: 2, length: 16))
        #expect(throws: YamuxError.self) { try YamuxFrame(header: hex("01 00 0000 00000000 00000000")) }
        #expect(throws: YamuxError.self) { try YamuxFrame(header: hex("00 07 0000 00000000 00000000")) }
    }

    @Test func openAcceptAndEcho() throws {
        let pair = try YamuxPair()
        let accepted = onThread { try pair.server.accept(timeout: 5) }
        let stream = try pair.client.open()
        #expect(stream.id == 1)
        try stream.write(Array("hello".utf8))
        let serverSide = try accepted()
        #expect(try serverSide.readExactly(5) == Array("hello".utf8))
        try serverSide.write(Array("back".utf8))
        serverSide.close()
        #expect(try stream.readToEnd() == Array("back".utf8))
        stream.close()
        let dialed = onThread { try pair.client.accept(timeout: 5) }
        let outgoing = try pair.server.open()
        #expect(outgoing.id == 2)
        try outgoing.write([1])
        #expect(try dialed().readExactly(1) == [1])
    }

    @Test func largeTransfersBothWaysUseWindowUpdates() throws {
        let pair = try YamuxPair()
        let accepted = onThread { try pair.server.accept(timeout: 5) }
        let stream = try pair.client.open()
        let upload = pattern(3 * 1024 * 1024 + 17, seed: 1)
        let download = pattern(2 * 1024 * 1024 + 5, seed: 2)
        let writer = onThread { try stream.write(upload); stream.close() }
        let serverSide = try accepted()
        let serverWriter = onThread { try serverSide.write(download); serverSide.close() }
        #expect(try serverSide.readToEnd() == upload)
        #expect(try stream.readToEnd() == download)
        try writer()
        try serverWriter()
    }

    @Test func manyConcurrentStreams() throws {
        let pair = try YamuxPair()
        let count = 64
        let echo = onThread {
            for _ in 0..<count {
                let stream = try pair.server.accept(timeout: 5)
                HostThread.detach {
                    let data = (try? stream.readToEnd()) ?? []
                    try? stream.write(data.reversed())
                    stream.close()
                }
            }
        }
        let clients = (0..<count).map { index in
            onThread { () throws -> Bool in
                let stream = try pair.client.open()
                let data = pattern(40_000 + index, seed: UInt8(index))
                try stream.write(data)
                stream.close()
                return try stream.readToEnd() == Array(data.reversed())
            }
        }
        for client in clients { #expect(try client()) }
        try echo()
    }

    @Test func receiverSendsGoStyleWindowUpdate() throws {
        let raw = try RawPeer()
        try raw.send(raw.frame(1, 1, 1, 0))
        let stream = try raw.session.accept(timeout: 5)
        #expect(try raw.readFrame() == YamuxFrame(.windowUpdate, .ack, stream: 1, length: 0))
        // 128 KiB arrive and are read: the window is down by half, so exactly that is given back.
        try raw.send(raw.frame(0, 0, 1, 131_072) + pattern(131_072))
        #expect(try stream.readExactly(131_072).count == 131_072)
        #expect(try raw.readFrame() == YamuxFrame(.windowUpdate, [], stream: 1, length: 131_072))
    }

    @Test func pingIsAnswered() throws {
        let raw = try RawPeer()
        try raw.send(raw.frame(2, 1, 0, 0xdead_beef))
        #expect(try raw.readFrame() == YamuxFrame(.ping, .ack, stream: 0, length: 0xdead_beef))
    }

    @Test func exceedingTheWindowIsAProtocolError() throws {
        let raw = try RawPeer()
        try raw.send(raw.frame(1, 1, 1, 0))
        let stream = try raw.session.accept(timeout: 5)
        _ = try raw.readFrame()
        try raw.send(raw.frame(0, 0, 1, 262_145)) // refused from the header alone
        #expect(throws: YamuxError.self) { try stream.read(max: 10) }
        #expect(try raw.readFrame() == YamuxFrame(.goAway, [], stream: 0, length: 1))
    }

    @Test func malformedFramesCloseTheSession() throws {
        for bad in [hex("07 00 0000 00000001 00000000"), hex("00 09 0000 00000001 00000000"),
                    hex("00 01 0001 00000002 00000000") /* client opening an even id */] {
            let raw = try RawPeer()
            try raw.send(bad)
            #expect(throws: YamuxError.self) { try raw.session.accept(timeout: 5) }
            #expect(raw.session.isClosed)
        }
    }

    @Test func oversizedDataForUnknownStreamIsSkippedNotBuffered() throws {
        let raw = try RawPeer()
        // 1 MiB for a stream that does not exist, then a valid open: the session stays usable.
        try raw.send(raw.frame(0, 0, 99, 1 << 20))
        let filler = onThread { try raw.send([UInt8](repeating: 0, count: 1 << 20)); try raw.send(raw.frame(1, 1, 3, 0)) }
        let stream = try raw.session.accept(timeout: 5)
        #expect(stream.id == 3)
        try filler()
        // A frame claiming 4 GiB for a live stream is beyond its window: protocol error, no allocation.
        try raw.send(raw.frame(0, 0, 3, 0xffff_ffff))
        #expect(throws: YamuxError.self) { try stream.read(max: 1) }
    }

    @Test func abruptDisconnectFailsEveryStream() throws {
        let raw = try RawPeer()
        try raw.send(raw.frame(1, 1, 1, 0) + raw.frame(1, 1, 3, 0))
        let first = try raw.session.accept(timeout: 5)
        let second = try raw.session.accept(timeout: 5)
        let blockedRead = onThread { try first.read(max: 1) }
        let blockedWrite = onThread { try second.write([UInt8](repeating: 1, count: 1 << 20)) }
        let blockedAccept = onThread { try raw.session.accept() }
        raw.peer.shutdown()
        #expect(throws: YamuxError.self) { try blockedRead() }
        #expect(throws: YamuxError.self) { try blockedWrite() }
        #expect(throws: YamuxError.self) { try blockedAccept() }
        #expect(throws: YamuxError.self) { try raw.session.open() }
    }

    @Test func resetStreamErrorsAndFinGivesEOF() throws {
        let raw = try RawPeer()
        try raw.send(raw.frame(1, 1, 1, 0) + raw.frame(1, 1, 3, 0))
        let first = try raw.session.accept(timeout: 5)
        let second = try raw.session.accept(timeout: 5)
        try raw.send(raw.frame(0, 4, 1, 2) + [7, 8] + raw.frame(1, 8, 3, 0))
        #expect(try first.readToEnd() == [7, 8])
        #expect(throws: YamuxError.streamReset) { try second.read(max: 1) }
        try first.write([1]) // half-closed by the peer: writing still works
    }

    @Test func goAwayStopsNewStreams() throws {
        let raw = try RawPeer()
        try raw.send(raw.frame(3, 0, 0, 0))
        try raw.send(raw.frame(2, 1, 0, 1))
        _ = try raw.readFrame() // ping ack: the GoAway before it was processed
        #expect(throws: YamuxError.goAwayReceived) { try raw.session.open() }
    }
}
