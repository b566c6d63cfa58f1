import Glibc
import NBDCore
import TestSupport
import Testing

/// `cleanup` removes a killed run's output directory only if it is the very directory the run made: after the
/// kill, the user or a -force build may have removed it and made another, empty one at the same path (ext4
/// then hands out the same inode number, and made within one clock tick the same birth time; the inode's
/// generation tells the two apart).
struct CleanupOutputDirectoryTests {
    @Test func anOutputDirectoryMadeAgainAfterTheKillIsKept() throws {
        let work = try TemporaryDirectory("cleanup-output")
        let output = work.file("output")
        try #require(mkdir(output, 0o755) == 0)
        let theRuns = try FileIdentity.of(output)
        try #require(rmdir(output) == 0 && mkdir(output, 0o755) == 0)
        let again = try FileIdentity.of(output)
        print("output directory made again: \(again) (the run's was \(theRuns))")
        #expect(again != theRuns)
        let run = try staleRun(in: work, .createdOutputDirectory(path: output, identity: theRuns))

        var lines: [String] = []
        #expect(StaleRunCleaner(dryRun: true) { lines.append($0) }.clean(run))
        #expect(lines.first?.hasPrefix("would keep output directory \(output): it is not the directory the run made") == true,
                "\(lines)")
        lines = []
        #expect(StaleRunCleaner { lines.append($0) }.clean(run))
        #expect(HostPath.isDirectory(output), "\(lines)")
        #expect(try FileIdentity.of(output) == again)
        #expect(lines == ["kept output directory \(output): it is not the directory the run made (\(theRuns))",
                          "removed the record of run \(run.record.runID)"])
    }

    @Test func theRunsOwnEmptyOutputDirectoryIsRemoved() throws {
        let work = try TemporaryDirectory("cleanup-output")
        let output = work.file("output")
        try #require(mkdir(output, 0o755) == 0)
        let run = try staleRun(in: work, .createdOutputDirectory(path: output, identity: try FileIdentity.of(output)))
        var lines: [String] = []
        #expect(StaleRunCleaner { lines.append($0) }.clean(run))
        #expect(!HostPath.exists(output))
        #expect(lines == ["released output directory \(output) (created by the run)",
                          "removed the record of run \(run.record.runID)"])
    }

    /// Killed between recording its intent and recording the identity: the directory may be anyone's.
    @Test func anOutputDirectoryWithoutARecordedIdentityIsKept() throws {
        let work = try TemporaryDirectory("cleanup-output")
        let output = work.file("output")
        try #require(mkdir(output, 0o755) == 0)
        let run = try staleRun(in: work, .createdOutputDirectory(path: output))
        var lines: [String] = []
        #expect(StaleRunCleaner { lines.append($0) }.clean(run))
        #expect(HostPath.isDirectory(output))
        #expect(lines.first == "kept output directory \(output): the run was killed before it recorded which "
            + "directory it made")
    }

    /// A dead owner's record holding `resource`, under a ledger root of its own in `work`.
    private func staleRun(in work: TemporaryDirectory, _ resource: LedgerResource) throws -> StaleRun {
        let record = RunRecord(runID: "00c1ea0c1ea0c1ea", ownerPID: 1, ownerStartTime: 1, startedAt: 0,
                               mountNamespace: nil, entries: [LedgerEntry(id: 1, state: .held, resource: resource)])
        let run = StaleRun(directory: work.file("runs/\(record.runID)"), record: record)
        try FileTree.makeDirectories(run.directory, mode: 0o700)
        try FileDescriptor.open("\(run.directory)/record.json", O_WRONLY | O_CREAT, mode: 0o600).close()
        return run
    }
}
