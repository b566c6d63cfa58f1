import Glibc
import NBDCore
import Testing

/// The diagnosis `QemuStorageDaemonExport.stop` logs for a daemon that outlives its SIGTERM grace.
struct ProcFSKernelWaitsTests {
    @Test(.timeLimit(.minutes(1))) func aSleepingChildShowsItsStateAndWaitChannel() throws {
        let child = try ChildProcess.spawn("sleep", ["30"])
        defer { child.terminate(grace: 1) }
        // Past exec and into nanosleep: the state settles at S with a wait channel.
        _ = Poll.until(seconds: 5) { ProcFS.kernelWaits(of: child.pid).hasPrefix("\(child.pid) S ") }
        let waits = ProcFS.kernelWaits(of: child.pid)
        #expect(waits.hasPrefix("\(child.pid) S "), "\(waits)")
        #expect(!waits.hasSuffix(" ?"), "no wait channel: \(waits)")
        child.terminate(grace: 1)
        #expect(ProcFS.kernelWaits(of: child.pid) == "(gone)")
    }
}
