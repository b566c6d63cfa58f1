import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// `build` as it runs in a container (docs/scale.md): tests/container/contained gives it what the documented
/// `docker run` line gives (own namespaces, a tmpfs /dev with only /dev/fuse and /dev/loop-control, Docker's
/// default capabilities plus CAP_SYS_ADMIN); the output is checked from the host.
@Suite(.serialized, .enabled(if: Container.requirements == nil, "\(Container.requirements ?? "")"))
struct ContainerBuildTests {
    @Test(.timeLimit(.minutes(3))) func buildWithoutAHostDevBind() throws {
        let work = try TemporaryDirectory("builder-container")
        let image = try CLI.sampleImage(in: work.path)
        let before = try FileDigest.sha256(image)
        let template = try CLI.template(in: work.path, image: image, builder: #""output_directory": "out""#,
                                        provisioners: #"[{"type": "shell", "inline": ["echo contained > /which", "hostname > /host"]}]"#)
        let result = try Container.run([CLI.binary, "build", "--json", template], in: work.path)
        #expect(result.status == .exited(0), "stderr:\n\(result.stderr)")
        let json = try JSONParser.parse(result.stdout)
        #expect(json["exit_code"] == .number(0))
        let output = work.file("out/packer-test.qcow2")
        guard case .array(let builds) = json["builds"], let build = builds.first else {
            Issue.record("no builds in \(result.stdout)"); return
        }
        #expect(build["artifact"]?["path"] == .string(output))
        #expect(build["artifact"]?["sha256"] == .string(try FileDigest.sha256(output)))
        let values = try CLI.readBack(output, "echo which=$(cat /which); echo host=$(cat /host)", in: work.path)
        #expect(values["which"] == "contained")
        #expect(values["host"] == Container.hostname)
        #expect(try FileDigest.sha256(image) == before)
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
    }

    /// docs/scale.md's claim that a node needs no binfmt_misc registration: the emulator is registered in
    /// each command's own binfmt_misc, also under the container's capabilities.
    @Test(.timeLimit(.minutes(5)), .enabled(if: CrossArchitecture.requirements == nil, "\(CrossArchitecture.requirements ?? "")"))
    func arm64BuildInAContainer() throws {
        let work = try TemporaryDirectory("builder-container-arm64")
        let image = try CLI.sampleImage(in: work.path, name: "arm64.qcow2",
                                        extra: ["--busybox", try ForeignBusybox.program(for: "arm64")])
        let template = try CLI.template(in: work.path, image: image, builder: #""output_directory": "out""#,
                                        provisioners: #"[{"type": "shell", "inline": ["uname -m > /arch"]}]"#)
        let result = try Container.run([CLI.binary, "build", template], in: work.path)
        #expect(result.status == .exited(0), "stderr:\n\(result.stderr)")
        #expect(try CLI.readBack(work.file("out/packer-test.qcow2"), "echo arch=$(cat /arch)", in: work.path)["arch"] == "aarch64")
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
    }

    @Test(.timeLimit(.minutes(5))) func fourContainersFromOneSource() throws {
        let work = try TemporaryDirectory("builder-containers")
        let image = try CLI.sampleImage(in: work.path)
        let before = try FileDigest.sha256(image)
        let children = try CLI.numberedTemplates(4, in: work.path, image: image).map { template in
            try CLI.spawn("/bin/bash", [Container.script, CLI.binary, "build", template], in: work.path)
        }
        let statuses = children.map { $0.wait() }
        #expect(statuses.allSatisfy { $0 == .exited(0) }, "\(statuses)")
        for index in 0..<4 {
            let output = work.file("out\(index)/packer-test.qcow2")
            #expect(try CLI.readBack(output, "echo which=$(cat /which)", in: work.path)["which"] == "\(index)")
        }
        #expect(try FileDigest.sha256(image) == before)
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
    }
}

/// The same build with the image `make image` makes as the container's root (its static qemu-chroot, its
/// Debian tools), the working directory bound in at the same path.
@Suite(.serialized, .enabled(if: Container.imageRequirements == nil, "\(Container.imageRequirements ?? "")"))
struct ContainerImageTests {
    @Test(.timeLimit(.minutes(5))) func buildInTheImage() throws {
        let work = try TemporaryDirectory("builder-image")
        let rootfs = work.file("rootfs")
        _ = try FileTree.makeDirectories(rootfs)
        try Command.check(try ExecutableLookup.resolve("tar"), ["-xf", Container.imageTar, "-C", rootfs])
        let image = try CLI.sampleImage(in: work.path)
        let template = try CLI.template(in: work.path, image: image, builder: #""output_directory": "out""#,
                                        provisioners: #"[{"type": "shell", "inline": ["echo image > /which"]}]"#)
        let child = try CLI.spawn("/usr/bin/env", ["CONTAINED_ROOTFS=\(rootfs)", "/bin/bash", Container.script,
                                                   "/usr/local/bin/qemu-chroot", "build", template], in: work.path)
        #expect(child.wait() == .exited(0))
        let output = work.file("out/packer-test.qcow2")
        #expect(try CLI.readBack(output, "echo which=$(cat /which)", in: work.path)["which"] == "image")
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
    }
}

/// tests/container/contained, the stand-in for a container engine.
enum Container {
    static let requirements = CLI.requirements ?? Host.missing(programs: ["unshare", "setpriv", "mknod", "hostname"])
    /// `make image`'s root filesystem.
    static var imageTar: String { inCheckout("dist/qemu-chroot-rootfs.tar") }

    /// `path` in the checkout, found from this file's place in it.
    static func inCheckout(_ path: String) -> String {
        "/" + "\(#filePath)".split(separator: "/").dropLast(3).joined(separator: "/") + "/" + path
    }
    static let imageRequirements = requirements
        ?? (HostPath.exists(imageTar) ? nil : "needs dist/qemu-chroot-rootfs.tar (make image)")
    /// What the script names the container's UTS namespace.
    static let hostname = "qemu-chroot-container"

    static var script: String { inCheckout("tests/container/contained") }

    static func run(_ command: [String], in directory: String) throws -> CommandResult {
        try Command.run("/bin/bash", [script] + command, directory: directory)
    }
}
