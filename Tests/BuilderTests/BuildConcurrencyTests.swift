import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// Interrupted builds and builds running side by side.
@Suite(.serialized, .enabled(if: CLI.requirements == nil, "\(CLI.requirements ?? "")"))
struct BuildConcurrencyTests {
    @Test(.timeLimit(.minutes(2))) func sigintMidProvisionerReleasesEverything() throws {
        let work = try TemporaryDirectory("builder-sigint")
        let image = try CLI.sampleImage(in: work.path)
        let before = try FileDigest.sha256(image)
        let marker = work.file("provisioning-started")
        let template = try CLI.template(in: work.path, image: image, provisioners: #"""
            [{"type": "shell-local", "inline": ["touch \#(marker)"]},
             {"type": "shell", "inline": ["echo sleeping", "sleep 60"]}]
            """#)
        var options = SpawnOptions()
        options.directory = work.path
        let child = try ChildProcess.spawn(CLI.binary, ["build", template], options: options)
        Poll.until(seconds: 60, interval: 0.05) { HostPath.exists(marker) || child.poll() != nil }
        #expect(HostPath.exists(marker), "the build never reached its provisioners")
        HostThread.sleep(0.7)
        child.signal(SIGINT)
        let status = child.wait()
        #expect(status == .exited(130))
        #expect(!HostPath.exists(work.file("output-test")))
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
        #expect(try FileDigest.sha256(image) == before)
    }

    @Test(.timeLimit(.minutes(2))) func sigtermStopsAHostCommand() throws {
        let work = try TemporaryDirectory("builder-sigterm")
        let image = try CLI.sampleImage(in: work.path)
        let marker = work.file("host-command-started")
        let template = try CLI.template(in: work.path, image: image, provisioners: #"""
            [{"type": "shell-local", "inline": ["touch \#(marker)", "sleep 60"]}]
            """#)
        var options = SpawnOptions()
        options.directory = work.path
        let begin = Monotonic.now
        let child = try ChildProcess.spawn(CLI.binary, ["build", template], options: options)
        Poll.until(seconds: 60, interval: 0.05) { HostPath.exists(marker) || child.poll() != nil }
        child.signal(SIGTERM)
        #expect(child.wait() == .exited(130))
        #expect(Monotonic.now - begin < 30, "the host command was not stopped")
        #expect(!HostPath.exists(work.file("output-test")))
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
    }

    @Test(.timeLimit(.minutes(5))) func fourBuildsFromOneSourceInParallel() throws {
        let work = try TemporaryDirectory("builder-parallel")
        let image = try CLI.sampleImage(in: work.path)
        let before = try FileDigest.sha256(image)
        let children = try CLI.numberedTemplates(4, in: work.path, image: image).map { template in
            try CLI.spawn(CLI.binary, ["build", template], in: work.path)
        }
        let statuses = children.map { $0.wait() }
        #expect(statuses.allSatisfy { $0 == .exited(0) }, "\(statuses)")
        for index in 0..<4 { #expect(HostPath.isReadableFile(work.file("out\(index)/packer-test.qcow2"))) }
        #expect(try FileDigest.sha256(image) == before)
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test func severalBuildersInOneTemplate() throws {
        let work = try TemporaryDirectory("builder-multi")
        let image = try CLI.sampleImage(in: work.path)
        let text = #"""
        {"builders": [{"type": "qemu-chroot", "name": "one", "source_image": "\#(image)"},
                      {"type": "qemu-chroot", "name": "two", "source_image": "\#(image)", "format": "raw"}],
         "provisioners": [{"type": "shell", "inline": ["echo $PACKER_BUILD_NAME > /name"]}]}
        """#
        try writeFile(work.file("multi.json"), text)
        let result = try CLI.run(["build", "-machine-readable", "multi.json"], in: work.path)
        #expect(result.status.isSuccess, "\(result.stdout)\n\(result.stderr)")
        #expect(HostPath.isReadableFile(work.file("output-one/packer-one.qcow2")))
        #expect(HostPath.isReadableFile(work.file("output-two/packer-two.raw")))
        #expect(result.stdout.contains(",one,artifact,0,id,"))
        #expect(result.stdout.contains(",,artifact-count,2"))
    }
}


extension BuildConcurrencyTests {
    /// kill -9 of a build ends every process its provisioners started, at once and without `cleanup`:
    /// each chroot command is PID 1's child in a namespace whose init dies with the build.
    @Test(.timeLimit(.minutes(2))) func killingTheBuildEndsItsProvisionersBackgroundProcesses() throws {
        let work = try TemporaryDirectory("builder-kill-children")
        let image = try CLI.sampleImage(in: work.path)
        try CLI.killBuild(in: work.path, image: image, command: "sleep 3021 & (sleep 3022 &); sleep 3023", once: "3023",
                          seconds: 60)
        for argument in ["3021", "3022", "3023"] {
            #expect(hostProcesses(withArgument: argument).isEmpty, "sleep \(argument) outlived the killed build")
        }
        _ = try CLI.run(["cleanup"], in: work.path)
    }
}
