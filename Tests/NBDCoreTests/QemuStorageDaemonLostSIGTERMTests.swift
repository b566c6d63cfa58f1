import Glibc
import NBDCore
import TestSupport
import Testing

private let skip = Host.missing(programs: ["qemu-storage-daemon", "qemu-img", "gdb"], root: true, fuse: true)

/// #11 item 7: qemu-storage-daemon's SIGTERM handler only sets `exit_requested`, which its main loop tests before
/// it blocks in ppoll; a SIGTERM that lands in between is absorbed. gdb puts stop()'s own SIGTERM there for
/// certain: the daemon's main thread held at ppoll's entry after answering a FUSE_GETATTR until the signal is
/// pending, then released. `stop()` must still end the daemon at once rather than wait its 60 s grace.
@Suite(.enabled(if: skip == nil, "lost SIGTERM test: \(skip ?? "")"), .timeLimit(.minutes(2)))
struct QemuStorageDaemonLostSIGTERMTests {
    @Test func stopEndsADaemonThatAbsorbedASIGTERM() throws {
        let work = try TemporaryDirectory("qsd-lost-sigterm")
        let image = work.file("disk.qcow2")
        try Command.check("qemu-img", ["create", "-q", "-f", "qcow2", image, "64M"])
        let export = try QemuStorageDaemonExport(image: image, driver: "qcow2", readOnly: false,
                                                 directory: work.file("export"))
        defer { try? export.stop() }
        let pid = try #require(ProcFS.pids().first { pid in
            ProcFS.readText("/proc/\(pid)/cmdline")?.contains("mountpoint=\(export.path),") == true
        }, "no qemu-storage-daemon serves \(export.path)")
        // stat(1) asks for the birth time: Linux 6.6+ sends FUSE_STATX for it once, which qemu refuses, then
        // FUSE_GETATTR. After this one and the attribute cache's second, the next stat(1) is one FUSE_GETATTR.
        try Command.check("stat", [export.path])
        HostThread.sleep(1.2)

        // gdb stops the daemon at ppoll's entry and holds it there until stop()'s SIGTERM is pending (a stopped
        // tracee only queues it), then detaches: the handler runs at once, between the test and the ppoll.
        let ready = work.file("gdb-at-ppoll")
        let waitForSIGTERM = "while ! grep -q '^ShdPnd:.*[4567cdef]...$' /proc/\(pid)/status; do sleep 0.01; done"
        let gdb = try ChildProcess.spawn("gdb", ["-q", "-p", String(pid), "-batch",
            "-ex", "handle SIGTERM nostop noprint pass", "-ex", "break ppoll",
            "-ex", "shell stat \(export.path) > /dev/null & sleep 0.3", "-ex", "continue",
            "-ex", "shell touch \(ready); \(waitForSIGTERM)", "-ex", "delete", "-ex", "detach"])
        defer { gdb.terminate(grace: 1) }
        try #require(Poll.until(seconds: 30) { HostPath.exists(ready) }, "gdb did not stop the daemon at ppoll")

        let start = Monotonic.now
        try export.stop()
        #expect(Monotonic.now - start < 5, "stop() took \(Monotonic.now - start) s")
        #expect(gdb.wait(timeout: 5) == .exited(0))
        #expect(!ProcFS.pids().contains(pid), "the daemon was reaped")
    }
}
