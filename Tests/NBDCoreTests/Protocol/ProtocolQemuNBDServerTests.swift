import Glibc
import NBDCore
@testable import ImageLayout
@testable import QemuTools
@testable import HostSystem
import Testing
import TestSupport

@Suite(.enabled(if: ProtocolFixture.qemuNBDMissing == nil, "\(ProtocolFixture.qemuNBDMissing ?? "")"), .serialized)
struct ProtocolQemuNBDServerTests {
    @Test(.timeLimit(.minutes(1))) func listensInPrivateDirectoryAndStopsClean() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir))
        var info = stat()
        #expect(stat(server.directory, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        let connection = try NBDConnection.connect(unixSocket: server.socketPath)
        #expect(connection.size == 64 << 20)
        #expect(try connection.read(at: 0, count: 4096) == [UInt8](repeating: 0, count: 4096))
        connection.disconnect()
        try server.stop()
        #expect(kill(server.pid, 0) == -1)
        #expect(access(server.directory, F_OK) == -1)
        try server.stop()
    }

    @Test(.timeLimit(.minutes(1))) func startFailureQuotesQemuNBDStderr() throws {
        // qemu-nbd listens before it opens the image, so a server that is about to fail can look ready;
        // several rounds make that race show.
        let dir = try TemporaryDirectory()
        for _ in 0..<5 {
            let error = #expect(throws: QemuNBDError.self) { try ProtocolFixture.serve(dir.file("missing.qcow2")) }
            guard case .exitedBeforeListening(_, _, let stderr)? = error else {
                Issue.record("unexpected \(String(describing: error))")
                return
            }
            #expect(stderr.contains("missing.qcow2"))
            #expect(error!.description.contains("before it listened"))
        }
    }

    @Test(.timeLimit(.minutes(1))) func stopReportsAServerThatDiedWhileServing() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir))
        kill(server.pid, SIGKILL)
        let error = #expect(throws: QemuNBDError.self) { try server.stop() }
        #expect(error?.description.contains("while serving") == true)
        #expect(access(server.directory, F_OK) == -1)
    }

    @Test func rejectsOptionCombinationsQemuWouldRefuse() throws {
        let dir = try TemporaryDirectory()
        let image = try ProtocolFixture.makeImage(dir)
        #expect(throws: QemuNBDError.self) { try ProtocolFixture.serve(image) { $0.aio = .native } }
        #expect(throws: QemuNBDError.self) { try ProtocolFixture.serve(image) { $0.detectZeroes = .unmap } }
        #expect(throws: QemuNBDError.self) { try ProtocolFixture.serve(image, format: "qcow2,file.driver=nbd") }
    }

    @Test func imagePathIsNeverAnOptionOrAProtocol() {
        // qemu-nbd reads "nbd:x.qcow2" as an NBD address and "json:{...}" as JSON options.
        let options = QemuNBDOptions(format: "raw")
        #expect(options.arguments(image: "nbd:x.qcow2", socket: "/s").suffix(2) == ["--", "./nbd:x.qcow2"])
        #expect(options.arguments(image: "-x.raw", socket: "/s").suffix(2) == ["--", "./-x.raw"])
        #expect(options.arguments(image: "/images/a:b.qcow2", socket: "/s").suffix(2) == ["--", "/images/a:b.qcow2"])
    }

    @Test(.timeLimit(.minutes(1))) func passesEveryOptionQemuAccepts() throws {
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir)) {
            $0.exportName = "disk"
            $0.cache = QemuNBDOptions.Cache.none
            $0.aio = .native
            $0.discard = .unmap
            $0.detectZeroes = .unmap
            $0.shared = 2
        }
        defer { try? server.stop() }
        let connection = try NBDConnection.connect(unixSocket: server.socketPath, options: NBDHandshakeOptions(exportName: "disk"))
        #expect(connection.export.canMultiConn)
        #expect(!connection.export.readOnly)
    }

    @Test(.timeLimit(.minutes(1))) func nonPersistentServerSurvivesTheReadinessCheck() throws {
        // The readiness check must not connect: a probe client would make a non-persistent qemu-nbd exit.
        let dir = try TemporaryDirectory()
        let server = try ProtocolFixture.serve(try ProtocolFixture.makeImage(dir)) { $0.persistent = false }
        defer { try? server.stop() }
        let connection = try NBDConnection.connect(unixSocket: server.socketPath)
        #expect(connection.size == 64 << 20)
    }
}
