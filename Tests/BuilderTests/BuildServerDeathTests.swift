import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// The process serving the image dies mid-build: the build fails naming it, its exit status and its
/// output, never with only the I/O errors it caused ("Read-only file system"), and never reports success.
@Suite(.serialized, .enabled(if: CLI.requirements == nil, "\(CLI.requirements ?? "")"))
struct BuildServerDeathTests {
    /// FUSE path (this host has no nbd driver; the nbd path is tests/vm/in-guest.sh). The daemon is found
    /// through the ledger record of THIS build only: the one whose work directory is under our directory.
    @Test(.timeLimit(.minutes(2))) func killingQemuStorageDaemonMidBuildIsReportedAsItsDeath() throws {
        let work = try TemporaryDirectory("builder-server-death")
        let image = try CLI.sampleImage(in: work.path)
        let marker = work.file("provisioning-started")
        let template = try CLI.template(in: work.path, image: image, builder: #""attach": "fuse""#, provisioners: #"""
            [{"type": "shell-local", "inline": ["touch \#(marker)"]},
             {"type": "shell", "inline": ["sleep 3", "echo after > /after", "sync"]}]
            """#)
        var options = SpawnOptions()
        options.directory = work.path
        let log = work.file("build.log")
        let logFile = try FileDescriptor.open(log, O_WRONLY | O_CREAT | O_TRUNC)
        options.stdout = logFile.rawValue
        options.stderr = logFile.rawValue
        let child = try ChildProcess.spawn(CLI.binary, ["build", template], options: options)
        try logFile.close()
        _ = Poll.until(seconds: 60) { HostPath.exists(marker) || child.poll() != nil }
        #expect(HostPath.exists(marker), "the build never reached its provisioners")
        let daemon = Self.storageDaemon(ofBuildUnder: work.path)
        #expect(daemon != nil, "no qemu-storage-daemon in the ledger record of this build")
        if let daemon { kill(daemon, SIGKILL) }
        let status = child.wait()
        let output = ProcFS.readText(log, limit: 1 << 20) ?? ""
        #expect(status == .exited(1), "\(output)")
        #expect(output.contains("qemu-storage-daemon (pid \(daemon ?? 0)) serving"), "\(output)")
        #expect(output.contains("died while the image was in use (killed by signal 9"), "\(output)")
        #expect(!HostPath.exists(work.file("output-test/packer-test.qcow2")))
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
    }

    /// The pid of the qemu-storage-daemon held by the run whose work directory is under `directory`, checked
    /// against its start time so a reused pid is never signalled.
    static func storageDaemon(ofBuildUnder directory: String) -> pid_t? {
        for record in RunLedger.findAll() {
            let ours = record.entries.contains {
                if case .workDirectory(let path) = $0.resource { return path.hasPrefix(directory + "/") }
                return false
            }
            guard ours else { continue }
            for entry in record.entries {
                if case .child("qemu-storage-daemon", let pid?, let start?) = entry.resource, ProcFS.startTime(of: pid) == start {
                    return pid
                }
            }
        }
        return nil
    }
}
