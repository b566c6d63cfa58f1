import NBDCore
import Synchronization
import Testing

/// `Log.logger` is where an embedder routes the libraries' messages; the CLI format is the default.
@Suite(.serialized) struct LogSeamTests {
    final class Lines: Sendable {
        private let lines = Synchronization.Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
        func append(_ line: String) { lines.withLock { $0.append(line) } }
    }

    @Test func aReplacedLoggerReceivesEveryCallSiteInTheCLIFormat() {
        let saved = Log.logger
        defer { Log.logger = saved }
        let lines = Lines()
        Log.logger = QemuChrootLogHandler.logger(write: { lines.append($0) })
        Log.debug("hidden at info")
        Log.info("attach: using loop")
        Log.warning("disk is small")
        Log.error("umount2 failed")
        Log.level = .debug
        #expect(Log.level == .debug)
        Log.debug("chose partition 1")
        #expect(lines.all == [
            "qemu-chroot: attach: using loop\n", "qemu-chroot: warning: disk is small\n",
            "qemu-chroot: error: umount2 failed\n", "qemu-chroot: debug: chose partition 1\n",
        ])
    }

    @Test func theDefaultLoggerIsTheCLIFormatAtInfo() {
        #expect(Log.logger.label == "qemu-chroot")
        #expect(Log.logger.handler is QemuChrootLogHandler)
        #expect(Log.level == .info)
    }
}
