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

    @Test func syscallErrorNamesCallPathAndErrno() {
        let error = #expect(throws: SystemError.self) {
            _ = try FileDescriptor.open("/nonexistent/dir/file", O_RDONLY)
        }
        #expect(error?.errno == ENOENT)
        #expect(error?.description == "open /nonexistent/dir/file: No such file or directory (ENOENT)")
    }
}
