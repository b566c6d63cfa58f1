import FoundationEssentials
import Glibc
import NBDCore
import TestSupport
import Testing

/// `qemu-chroot doctor` and `qemu-chroot cleanup`, run as the built binary.
@Suite(.enabled(if: Host.missing(root: true) == nil, "needs root"), .timeLimit(.minutes(1)))
struct AttachCommandTests {
    static let binary = BuiltProduct.path("qemu-chroot")

    @Test func doctorNamesEveryCapabilityAndTheAutoChoice() throws {
        try #require(access(Self.binary, X_OK) == 0, "\(Self.binary) is missing: swift build first")
        let result = try Command.run(Self.binary, ["doctor"])
        let names = result.stdout.split(separator: "\n").map { $0.dropFirst(6).prefix { $0 != ":" } }
        for name in ["root", "nbd", "loop", "fuse", "qemu-storage-daemon", "qemu-img", "qemu-nbd",
                     "mount namespaces", "user namespaces", "binfmt_misc", "attach auto (qcow2)", "attach auto (raw)"] {
            #expect(names.contains(Substring(name)), "\(name) missing from:\n\(result.stdout)")
        }
        let usable = result.stdout.contains("ok    attach auto")
        #expect(result.status == (usable ? .exited(0) : .exited(1)))
        if !Host.hasNBDModule && Host.hasFUSE && Host.has("qemu-storage-daemon") {
            #expect(result.stdout.contains("ok    attach auto (qcow2): fuse — kernel nbd driver not loaded"))
        }
    }

    @Test func cleanupReportsNothingOrReleasesAStaleRecord() throws {
        try #require(access(Self.binary, X_OK) == 0, "\(Self.binary) is missing: swift build first")
        let root = try TemporaryDirectory("cleanup-cli")
        let empty = try Command.run(Self.binary, ["cleanup", "--ledger-root", root.path])
        #expect(empty.status == .exited(0))
        #expect(empty.stdout == "nothing to clean up: no records of killed runs under \(root.path)\n")

        // A dead owner's record naming a directory of the run: dry run lists it, cleanup removes both.
        let leftover = root.file("leftover-export")
        mkdir(leftover, 0o700)
        let child = try ChildProcess.spawn("/bin/true", [])
        let start = try #require(ProcFS.startTime(of: child.pid))
        child.wait()
        let record = RunRecord(runID: "feedfacefeedface", ownerPID: child.pid, ownerStartTime: start, startedAt: 0,
                               mountNamespace: nil, entries: [LedgerEntry(id: 1, state: .held, resource: .directory(path: leftover))])
        mkdir(root.file(record.runID), 0o700)
        let file = try FileDescriptor.open(root.file("\(record.runID)/record.json"), O_WRONLY | O_CREAT)
        try file.writeAll(Array(try JSONEncoder().encode(record)))
        try file.close()

        let dry = try Command.run(Self.binary, ["cleanup", "--dry-run", "--ledger-root", root.path])
        #expect(dry.stdout == "would release directory \(leftover)\nwould remove the record of run feedfacefeedface\n")
        #expect(access(leftover, F_OK) == 0)
        let real = try Command.run(Self.binary, ["cleanup", "--ledger-root", root.path])
        #expect(real.status == .exited(0))
        #expect(real.stdout == "released directory \(leftover)\nremoved the record of run feedfacefeedface\n")
        #expect(access(leftover, F_OK) != 0)
        #expect(access(root.file(record.runID), F_OK) != 0)
    }
}
