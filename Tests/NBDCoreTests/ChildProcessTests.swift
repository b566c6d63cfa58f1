import Glibc
import NBDCore
import Testing

@Suite struct ChildProcessTests {
    @Test func capturesOutputAndStatus() throws {
        let result = try Command.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"])
        #expect(result.status == .exited(3))
        #expect(result.stdout == "out\n")
        #expect(result.stderr == "err\n")
    }

    @Test func reportsExecFailureWithStage() throws {
        #expect(throws: SpawnError.self) { try ChildProcess.spawn("/nonexistent/program", []) }
    }

    @Test func missingProgramNamesThePackage() {
        let error = #expect(throws: ExecutableNotFound.self) { try ChildProcess.spawn("qemu-nbd-does-not-exist", []) }
        #expect(error?.description.contains("not found in PATH") == true)
    }

    @Test func terminateEscalatesToKill() throws {
        // The child ignores SIGTERM, so only SIGKILL ends it.
        let child = try ChildProcess.spawn("/bin/sh", ["-c", "trap '' TERM; while :; do sleep 0.05; done"])
        HostThread.sleep(0.1)  // time for the shell to install its trap
        let status = child.terminate(grace: 0.3)
        #expect(status == .signaled(SIGKILL))
        #expect(child.terminate() == status)
    }

    /// A child that acts on SIGTERM only once it has seen two stands for qemu-storage-daemon when the first one
    /// lands between its main loop's flag test and its ppoll (docs/attach.md): one SIGTERM leaves it running,
    /// `terminate(resendEvery:)` ends it cleanly at once, long before the grace and without SIGKILL.
    @Test(.timeLimit(.minutes(1))) func terminateResendsSIGTERMToAChildThatAbsorbedOne() throws {
        let script = "seen=0; trap 'seen=$((seen + 1))' TERM; while [ $seen -lt 2 ]; do sleep 0.05; done; exit 0"
        let once = try ChildProcess.spawn("/bin/sh", ["-c", script])
        HostThread.sleep(0.1)  // time for the shell to install its trap
        once.signal(SIGTERM)
        #expect(once.wait(timeout: 1) == nil, "one SIGTERM was absorbed")
        #expect(once.terminate(grace: 0) == .signaled(SIGKILL))

        let child = try ChildProcess.spawn("/bin/sh", ["-c", script])
        HostThread.sleep(0.1)
        let start = Monotonic.now
        #expect(child.terminate(grace: 30, resendEvery: 0.2) == .exited(0))
        #expect(Monotonic.now - start < 5)
    }

    @Test func syscallErrorNamesCallPathAndErrno() {
        let error = #expect(throws: SystemError.self) {
            _ = try FileDescriptor.open("/nonexistent/dir/file", O_RDONLY)
        }
        #expect(error?.errno == ENOENT)
        #expect(error?.description == "open /nonexistent/dir/file: No such file or directory (ENOENT)")
    }
}
