import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// The output directory belongs to one live build at a time, and a killed build's work files are
/// released by `qemu-chroot cleanup`.
@Suite(.serialized, .enabled(if: CLI.requirements == nil, "\(CLI.requirements ?? "")"))
struct BuildOutputDirectoryTests {
    /// Starts `build` in the background and waits until its provisioners run (a shell-local marker).
    func startProvisioning(_ template: String, marker: String, in work: TemporaryDirectory,
                           flags: [String] = []) throws -> (ChildProcess, String) {
        let log = work.file("build-\(UInt32.random(in: 0...UInt32.max)).log")
        let output = try FileDescriptor.open(log, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        defer { try? output.close() }
        var options = SpawnOptions()
        options.directory = work.path
        options.stdout = output.rawValue
        options.stderr = output.rawValue
        let child = try ChildProcess.spawn(CLI.binary, ["build"] + flags + [template], options: options)
        let deadline = Monotonic.now + 90
        while !HostPath.exists(marker) && Monotonic.now < deadline && child.poll() == nil { usleep(50_000) }
        return (child, log)
    }

    @Test(.timeLimit(.minutes(3))) func aSecondForceBuildOfALiveOutputDirectoryStopsAndNamesTheRun() throws {
        let work = try TemporaryDirectory("builder-output-lock")
        let image = try CLI.sampleImage(in: work.path)
        let marker = work.file("first-provisioning"), release = work.file("release-first")
        let first = try CLI.template(in: work.path, name: "first.json", image: image, provisioners: #"""
            [{"type": "shell-local", "inline": ["touch \#(marker)", "while [ ! -e \#(release) ]; do sleep 0.1; done"]},
             {"type": "shell", "inline": ["echo first > /who"]}]
            """#)
        let (child, log) = try startProvisioning(first, marker: marker, in: work)
        #expect(HostPath.exists(marker), "the first build never reached its provisioners")
        let second = try CLI.template(in: work.path, name: "second.json", image: image,
                                      provisioners: #"[{"type": "shell", "inline": ["echo second > /who"]}]"#)
        let result = try CLI.run(["build", "-force", second], in: work.path)
        #expect(result.status == .exited(1), "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("is in use by the live run"))
        try writeFile(release, "")
        let status = child.wait()
        let text = try TextFileReader.read(log)
        #expect(status == .exited(0), "\(text)")
        // The first build's checksum is of the file that is really there: nobody replaced it.
        let output = work.file("output-test/packer-test.qcow2")
        #expect(text.contains(try FileDigest.sha256(output)), "\(text)")
        #expect(try FileTree.entries(work.file("output-test")) == ["packer-test.qcow2"])
    }

    /// Builds the sample image in `work` and kills the build with SIGKILL while its provisioner sleeps (with a
    /// background child); returns the image and the output directory.
    func killedBuild(in work: TemporaryDirectory) throws -> (image: String, outputDirectory: String) {
        let image = try CLI.sampleImage(in: work.path)
        let marker = work.file("provisioning-started")
        let template = try CLI.template(in: work.path, image: image, provisioners: #"""
            [{"type": "shell-local", "inline": ["touch \#(marker)"]},
             {"type": "shell", "inline": ["sleep 60 & sleep 60"]}]
            """#)
        let (child, _) = try startProvisioning(template, marker: marker, in: work)
        #expect(HostPath.exists(marker), "the build never reached its provisioners")
        usleep(500_000)
        child.signal(SIGKILL)
        _ = child.wait()
        return (image, work.file("output-test"))
    }

    @Test(.timeLimit(.minutes(3))) func aKilledBuildLeavesOnlyWhatCleanupReleases() throws {
        let work = try TemporaryDirectory("builder-kill9")
        let (image, outputDirectory) = try killedBuild(in: work)
        #expect(try FileTree.entries(outputDirectory).contains { $0.hasPrefix(".qemu-chroot-work-") },
                "the overlay is kept in a run-private work directory")
        let dryRun = try CLI.run(["cleanup", "--dry-run"], in: work.path)
        #expect(dryRun.stdout.contains("would release work directory \(outputDirectory)/.qemu-chroot-work-"), "\(dryRun.stdout)")
        #expect(dryRun.stdout.contains("would remove the record of run"), "\(dryRun.stdout)")
        let cleanup = try CLI.run(["cleanup"], in: work.path)
        #expect(cleanup.status.isSuccess, "stdout:\n\(cleanup.stdout)\nstderr:\n\(cleanup.stderr)")
        #expect(!HostPath.exists(outputDirectory), "cleanup removes the output directory the killed run created")
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
        // And the next build needs no -force.
        let again = try CLI.run(["build", try CLI.template(in: work.path, name: "again.json", image: image)], in: work.path)
        #expect(again.status.isSuccess, "stdout:\n\(again.stdout)\nstderr:\n\(again.stderr)")
    }

    /// After the kill the output directory is removed and made again, empty (by the user, or by a -force build
    /// that has not written yet): it is not the killed run's, and `cleanup` leaves it, although ext4 usually
    /// gives it the killed run's inode number (its generation differs).
    @Test(.timeLimit(.minutes(3))) func cleanupKeepsAnOutputDirectoryMadeAgainAfterTheKill() throws {
        let work = try TemporaryDirectory("builder-kill9-again")
        let (_, outputDirectory) = try killedBuild(in: work)
        let killedRuns = try FileIdentity.of(outputDirectory)
        try FileTree.removeAll(outputDirectory)
        try #require(mkdir(outputDirectory, 0o755) == 0)
        let madeAgain = try FileIdentity.of(outputDirectory)
        print("output directory made again: \(madeAgain); the killed run's was \(killedRuns)")
        #expect(madeAgain != killedRuns)

        let dryRun = try CLI.run(["cleanup", "--dry-run"], in: work.path)
        #expect(dryRun.stdout.contains("would keep output directory \(outputDirectory): it is not the directory the run made"),
                "\(dryRun.stdout)")
        let cleanup = try CLI.run(["cleanup"], in: work.path)
        #expect(cleanup.status.isSuccess, "stdout:\n\(cleanup.stdout)\nstderr:\n\(cleanup.stderr)")
        #expect(cleanup.stdout.contains("kept output directory \(outputDirectory): it is not the directory the run made"),
                "\(cleanup.stdout)")
        #expect(try FileIdentity.of(outputDirectory) == madeAgain, "cleanup left the directory made after the kill")
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
    }
}
