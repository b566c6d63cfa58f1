@testable import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// Whole builds through the CLI on a busybox sample image, one option at a time.
@Suite(.serialized, .enabled(if: CLI.requirements == nil, "\(CLI.requirements ?? "")"))
struct BuildEndToEndTests {
    let work: TemporaryDirectory
    let image: String

    init() throws {
        work = try TemporaryDirectory("builder-e2e")
        image = try CLI.sampleImage(in: work.path)
    }

    func build(_ template: String, _ flags: [String] = []) throws -> CommandResult {
        try CLI.run(["build"] + flags + [template], in: work.path)
    }

    func expectSuccess(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status.isSuccess, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test func defaultsWriteTheImageAndLeaveTheSourceUnchanged() throws {
        let before = try FileDigest.sha256(image)
        let template = try CLI.template(in: work.path, image: image, provisioners: #"[{"type": "shell", "inline": ["echo built > /hello"]}]"#)
        let result = try build(template)
        expectSuccess(result)
        let output = work.file("output-test/packer-test.qcow2")
        #expect(HostPath.isReadableFile(output))
        #expect(try FileDigest.sha256(image) == before)
        #expect(result.stdout.contains("provision done in"))
        #expect(result.stdout.contains("sha256"))
        // Read the file back out of the output with a second build's download.
        let check = try CLI.template(in: work.path, name: "check.json", image: output,
                                     builder: #""output_directory": "check-out""#,
                                     provisioners: #"[{"type": "file", "direction": "download", "source": "/hello", "destination": "\#(work.file("hello.txt"))"}]"#)
        expectSuccess(try build(check))
        #expect(try TextFileReader.read(work.file("hello.txt")) == "built\n")
        #expect(CLI.leftovers(under: work.path).isEmpty)
    }

    @Test func anExistingOutputDirectoryNeedsForce() throws {
        mkdir(work.file("output-test"), 0o755)
        let template = try CLI.template(in: work.path, image: image)
        let refused = try build(template)
        #expect(!refused.status.isSuccess)
        #expect((refused.stdout + refused.stderr).contains("already exists"))
        expectSuccess(try build(template, ["-force"]))
        #expect(HostPath.isReadableFile(work.file("output-test/packer-test.qcow2")))
        // -force must never empty a directory holding the source image.
        let inside = try CLI.template(in: work.path, name: "inside.json", image: work.file("output-test/packer-test.qcow2"))
        let refusedInside = try build(inside, ["-force"])
        #expect(!refusedInside.status.isSuccess)
        #expect((refusedInside.stdout + refusedInside.stderr).contains("is inside the output directory"))
        #expect(HostPath.isReadableFile(work.file("output-test/packer-test.qcow2")))
    }

    @Test func compressionShrinksTheOutput() throws {
        let fill = #"[{"type": "shell", "inline": ["yes 'a compressible line of text' | head -c 8000000 > /big"]}]"#
        let plain = try CLI.template(in: work.path, name: "plain.json", image: image,
                                     builder: #""output_directory": "plain", "image_name": "x.qcow2""#, provisioners: fill)
        let packed = try CLI.template(in: work.path, name: "packed.json", image: image,
                                      builder: #""output_directory": "packed", "image_name": "x.qcow2", "compression": true, "compression_type": "zstd""#,
                                      provisioners: fill)
        expectSuccess(try build(plain))
        expectSuccess(try build(packed))
        let plainSize = try FileTree.fileSize(work.file("plain/x.qcow2"))
        let packedSize = try FileTree.fileSize(work.file("packed/x.qcow2"))
        #expect(packedSize * 2 < plainSize, "compressed \(packedSize) vs plain \(plainSize)")
    }

    @Test func rawFormatAndImageName() throws {
        let template = try CLI.template(in: work.path, image: image, builder: #""format": "raw", "image_name": "disk.img""#)
        expectSuccess(try build(template))
        let info = try ImageProbe.probe(path: work.file("output-test/disk.img"))
        #expect(info.format == .raw)
    }

    @Test func copyFilesDefaultAndEmpty() throws {
        let show = #"[{"type": "shell", "inline": ["echo resolv=$(head -c 60 /etc/resolv.conf | head -1)"]}]"#
        let host = try TextFileReader.read("/etc/resolv.conf").split(separator: "\n").first.map(String.init) ?? ""
        let copied = try build(try CLI.template(in: work.path, name: "a.json", image: image, builder: #""output_directory": "a""#, provisioners: show))
        expectSuccess(copied)
        #expect(host.isEmpty || copied.stdout.contains("resolv=\(String(host.prefix(60)))"))
        let skipped = try build(try CLI.template(in: work.path, name: "b.json", image: image,
                                                 builder: #""output_directory": "b", "copy_files": []"#, provisioners: show))
        expectSuccess(skipped)
        #expect(skipped.stdout.contains("resolv=# placeholder"))
    }

    @Test func commandWrapperWithEnvironment() throws {
        let template = try CLI.template(in: work.path, image: image, builder: #""command_wrapper": "env GREETING=hello {{.Command}}""#,
                                        provisioners: #"[{"type": "shell", "inline": ["echo greeting=$GREETING"]}]"#)
        let result = try build(template)
        expectSuccess(result)
        #expect(result.stdout.contains("greeting=hello"))
    }

    @Test func customChrootMounts() throws {
        let template = try CLI.template(in: work.path, image: image,
                                        builder: #""chroot_mounts": [["proc", "proc", "/proc"], ["tmpfs", "tmpfs", "/mnt/scratch", "size=1m"]]"#,
                                        provisioners: #"[{"type": "shell", "inline": ["grep -c ' /mnt/scratch ' /proc/mounts | sed 's/^/scratch=/'", "test ! -e /dev/pts/ptmx && echo no-devpts"]}]"#)
        let result = try build(template)
        expectSuccess(result)
        #expect(result.stdout.contains("scratch=1"))
        #expect(result.stdout.contains("no-devpts"))
    }

    @Test func mountPartitionOnAMultiPartitionImage() throws {
        let multi = try CLI.sampleImage(in: work.path, name: "multi.qcow2", extra: ["--data-partition"])
        let root = try build(try CLI.template(in: work.path, name: "root.json", image: multi, builder: #""output_directory": "root""#,
                                              provisioners: #"[{"type": "shell", "inline": ["echo os=$(grep ^ID= /etc/os-release)"]}]"#))
        expectSuccess(root)
        #expect(root.stdout.contains("os=ID=qemu-chroot-sample"))
        let data = try build(try CLI.template(in: work.path, name: "data.json", image: multi,
                                              builder: #""output_directory": "data", "mount_partition": 1, "chroot_mounts": [], "copy_files": []"#,
                                              provisioners: #"[{"type": "file", "direction": "download", "source": "/PARTITION", "destination": "\#(work.file("partition.txt"))"}]"#))
        expectSuccess(data)
        #expect(try TextFileReader.read(work.file("partition.txt")) == "data\n")
    }

    @Test func diskSizeGrowthIsVisibleInsideBtrfs() throws { try checkDiskSizeGrowthIsVisibleInside(filesystem: "btrfs") }

    // A test of its own, not a case of a parameterized one: Swift Testing skips whole tests, not single cases.
    @Test(.enabled(if: Capabilities.has(Capabilities.sysResource),
                   "growing ext4 online (EXT4_IOC_RESIZE_FS) needs CAP_SYS_RESOURCE, which this test process lacks"))
    func diskSizeGrowthIsVisibleInsideExt4() throws { try checkDiskSizeGrowthIsVisibleInside(filesystem: "ext4") }

    private func checkDiskSizeGrowthIsVisibleInside(filesystem: String) throws {
        let grown = try CLI.sampleImage(in: work.path, name: "\(filesystem).qcow2", extra: ["--filesystem", filesystem])
        let template = try CLI.template(in: work.path, image: grown, builder: #""disk_size": "512M""#,
                                        provisioners: #"[{"type": "shell", "inline": ["df -k / | tail -1 | awk '{print \"size_kb=\" $2}'"]}]"#)
        let result = try build(template)
        expectSuccess(result)
        let line = result.stdout.split(separator: "\n").first { $0.contains("size_kb=") }
        let kilobytes = line.flatMap { Int($0.split(separator: "=").last ?? "") } ?? 0
        #expect(kilobytes > 400_000, "df inside the chroot said: \(line ?? "nothing")")
        let info = try ImageProbe.probe(path: work.file("output-test/packer-test.qcow2"))
        #expect(info.virtualSize == 512 << 20)
    }

    @Test(.enabled(if: Host.has("mkfs.xfs"), "needs mkfs.xfs")) func diskSizeGrowsAnXfsRoot() throws {
        let fixture = try ImageFixtures.build(ImageSpec(table: .gpt(sectorSize: 512), diskMiB: 400, partitions: [
            FixturePartition(1, startMiB: 1, sizeMiB: 398, type: "4f68bce3-e8cd-4db1-96e7-fbcaf984b709", filesystem: .xfs("root")),
        ], format: .qcow2))
        // No userland in this image: the size is read from the host after the growth step.
        let template = try CLI.template(in: work.path, image: fixture.image, builder: #"""
            "disk_size": "1G", "chroot_mounts": [], "copy_files": [],
            "post_mount_commands": ["df -k {{.MountPath}} | tail -1 | awk '{print \"size_kb=\" $2}'"]
            """#)
        let result = try build(template)
        expectSuccess(result)
        let line = result.stdout.split(separator: "\n").first { $0.contains("size_kb=") && !$0.contains("awk") }
        let kilobytes = line.flatMap { Int($0.split(separator: "=").last ?? "") } ?? 0
        #expect(kilobytes > 900_000, "df said: \(line ?? "nothing")")
    }

    @Test func fileProvisionerBothWays() throws {
        let tree = work.file("tree")
        try FileTree.makeDirectories("\(tree)/sub")
        try writeFile("\(tree)/a.txt", "A\n")
        try writeFile("\(tree)/sub/b.txt", "B\n")
        try writeFile(work.file("single.txt"), "single\n", mode: 0o640)
        let down = work.file("down")
        let provisioners = #"""
        [{"type": "file", "source": "\#(work.file("single.txt"))", "destination": "/opt/"},
         {"type": "file", "source": "\#(tree)", "destination": "/srv"},
         {"type": "file", "source": "\#(tree)/", "destination": "/data"},
         {"type": "file", "content": "inline content\n", "destination": "/etc/inline.conf"},
         {"type": "shell", "inline": ["ls -l /opt/single.txt | cut -c1-10 | sed 's/^/mode=/'", "cat /srv/tree/sub/b.txt /data/a.txt /etc/inline.conf"]},
         {"type": "file", "direction": "download", "source": "/srv/tree/", "destination": "\#(down)/copy"},
         {"type": "file", "direction": "download", "source": "/data/sub/b.txt", "destination": "\#(down)/"}]
        """#
        let result = try build(try CLI.template(in: work.path, image: image, provisioners: provisioners))
        expectSuccess(result)
        #expect(result.stdout.contains("mode=-rw-r-----"))
        #expect(result.stdout.contains("B\n") || result.stdout.contains(": B"))
        #expect(result.stdout.contains("inline content"))
        #expect(try TextFileReader.read("\(down)/copy/a.txt") == "A\n")
        #expect(try TextFileReader.read("\(down)/copy/sub/b.txt") == "B\n")
        #expect(try TextFileReader.read("\(down)/b.txt") == "B\n")
    }

    @Test func aFailingProvisionerLeavesNothing() throws {
        let before = try FileDigest.sha256(image)
        let template = try CLI.template(in: work.path, image: image,
                                        provisioners: #"[{"type": "shell", "inline": ["echo about to fail", "exit 3"]}]"#)
        let result = try build(template)
        #expect(result.status == .exited(1))
        #expect((result.stdout + result.stderr).contains("exit status 3"))
        #expect(!HostPath.exists(work.file("output-test")))
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
        #expect(try FileDigest.sha256(image) == before)
    }

    @Test func shellScriptsEnvironmentAndExecuteCommand() throws {
        try writeFile(work.file("one.sh"), "#!/bin/sh\necho one=$GREETING-$PACKER_BUILD_NAME\n")
        try writeFile(work.file("two.sh"), "#!/bin/sh\necho two=$0\n")
        let template = try CLI.template(in: work.path, image: image, provisioners: #"""
            [{"type": "shell", "scripts": ["\#(work.file("one.sh"))", "\#(work.file("two.sh"))"],
              "environment_vars": ["GREETING=it's here"], "remote_folder": "/root",
              "execute_command": "echo via-execute; chmod +x {{.Path}}; {{.Vars}} {{.Path}}"}]
            """#)
        let result = try build(template)
        expectSuccess(result)
        #expect(result.stdout.contains("one=it's here-test"))
        #expect(result.stdout.contains("two=/root/script_"))
        #expect(result.stdout.contains("via-execute"))
    }

    @Test func hostCommandsSeeTheDeviceAndMountPath() throws {
        let log = work.file("host.log")
        let template = try CLI.template(in: work.path, image: image, builder: #"""
            "pre_mount_commands": ["echo pre={{.Device}} >> \#(log)"],
            "post_mount_commands": ["echo post={{.Device}} >> \#(log); test -e {{.MountPath}}/etc/os-release && echo mounted >> \#(log)"]
            """#)
        expectSuccess(try build(template))
        let text = try TextFileReader.read(log)
        #expect(text.contains("pre=/dev/"))
        #expect(text.contains("post=/dev/"))
        #expect(text.contains("mounted"))
    }

    @Test func timeoutAndMaxRetries() throws {
        let retried = try CLI.template(in: work.path, name: "retry.json", image: image, builder: #""output_directory": "retry""#,
                                       provisioners: #"[{"type": "shell", "max_retries": 1, "inline": ["test -e /root/once && exit 0; touch /root/once; exit 1"]}]"#)
        let first = try build(retried)
        expectSuccess(first)
        #expect(first.stdout.contains("retrying (1 of 1"))
        let timed = try CLI.template(in: work.path, name: "timeout.json", image: image, builder: #""output_directory": "timeout""#,
                                     provisioners: #"[{"type": "shell", "timeout": "1s", "inline": ["sleep 30"]}]"#)
        let begin = Monotonic.now
        let result = try build(timed)
        #expect(!result.status.isSuccess)
        #expect((result.stdout + result.stderr).contains("timed out after 1.00s"))
        #expect(Monotonic.now - begin < 20)
        #expect(!HostPath.exists(work.file("timeout")))
    }

    @Test func sensitiveVariablesAreMasked() throws {
        let text = #"""
        {"variables": {"password": "hunter2-secret"}, "sensitive-variables": ["password"],
         "builders": [{"type": "qemu-chroot", "name": "test", "source_image": "\#(image)"}],
         "provisioners": [{"type": "shell", "inline": ["echo the password is {{user `password`}}"]}]}
        """#
        try writeFile(work.file("secret.json"), text)
        let result = try build(work.file("secret.json"))
        expectSuccess(result)
        #expect(result.stdout.contains("the password is <sensitive>"))
        #expect(!result.stdout.contains("hunter2-secret"))
    }

    @Test func validExitCodesAccept() throws {
        let template = try CLI.template(in: work.path, image: image,
                                        provisioners: #"[{"type": "shell", "inline": ["exit 3"], "valid_exit_codes": [0, 3]}]"#)
        expectSuccess(try build(template))
    }
}

enum TextFileReader {
    static func read(_ path: String) throws -> String {
        let file = try FileDescriptor.open(path, O_RDONLY)
        defer { try? file.close() }
        return String(decoding: try file.read(count: 1 << 20), as: UTF8.self)
    }
}
