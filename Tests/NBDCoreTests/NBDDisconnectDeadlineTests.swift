import CNBD
import Glibc
import NBDCore
import Testing

/// `IoctlNBDControl.disconnect` waits for NBD_DO_IT within a deadline. A host has no nbd driver, so /dev/null
/// stands in for the device (its ioctls fail, which disconnect records and goes on) and a thread blocked on a
/// pipe for a DO_IT the kernel never lets return.
@Suite(.serialized) struct NBDDisconnectDeadlineTests {
    @Test(.timeLimit(.minutes(1))) func aDoItThatNeverReturnsEndsTheWaitWithAWarningNamingTheDevice() throws {
        var ends: [Int32] = [0, 0]
        try syscall("pipe2") { cnbd_pipe_cloexec(&ends) }
        let reader = FileDescriptor(adopting: ends[0], path: "pipe")
        let writer = FileDescriptor(adopting: ends[1], path: "pipe")
        let device = try FileDescriptor.open("/dev/null", O_RDWR)
        let stuck = try HostThread(name: "stand-in for NBD_DO_IT") { _ = try reader.read(count: 1) }
        defer {
            _ = try? writer.writeAll([0])
            stuck.join()
            try? device.close()
        }
        let saved = Log.logger
        let lines = LogSeamTests.Lines()
        Log.logger = QemuChrootLogHandler.logger(write: { lines.append($0) })
        defer { Log.logger = saved }

        let start = Monotonic.now
        #expect(throws: (any Error).self) { try IoctlNBDControl.disconnect(device, stuck, deadline: 1) }
        let waited = Monotonic.now - start
        #expect(waited >= 1 && waited < 10, "waited \(waited) s")
        #expect(lines.all.contains {
            $0.contains("warning: NBD_DO_IT on /dev/null did not return within 1 s of NBD_DISCONNECT and NBD_CLEAR_SOCK")
        }, "\(lines.all)")
        #expect(!stuck.hasFinished)
        // The blocked ioctl still uses the descriptor: it must not be closed (and its number reused) under it.
        #expect(device.rawValue >= 0 && fcntl(device.rawValue, F_GETFD) >= 0)
    }

    @Test func aDoItThatReturnsIsJoinedAndTheDescriptorClosed() throws {
        let device = try FileDescriptor.open("/dev/null", O_RDWR)
        let returned = try HostThread(name: "stand-in for NBD_DO_IT") {}
        let start = Monotonic.now
        // NBD_DISCONNECT on /dev/null fails (ENOTTY) and is the error thrown; every other step still runs.
        #expect(throws: SystemError.self) { try IoctlNBDControl.disconnect(device, returned, deadline: 30) }
        #expect(Monotonic.now - start < 5)
        #expect(device.rawValue == -1, "closed once DO_IT returned")
    }
}
