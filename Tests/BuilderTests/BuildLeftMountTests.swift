import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// Mounts a build did not make, left inside the image: they never make the release fail.
@Suite(.serialized, .enabled(if: CLI.requirements == nil, "\(CLI.requirements ?? "")"))
struct BuildLeftMountTests {
    let work: TemporaryDirectory
    let image: String

    init() throws {
        work = try TemporaryDirectory("builder-left-mounts")
        image = try CLI.sampleImage(in: work.path)
    }

    /// A provisioner's mount lives in its command's own mount namespace and goes away with it.
    @Test func aMountMadeByAProvisionerEndsWithIt() throws {
        let template = try CLI.template(in: work.path, image: image, provisioners: #"""
            [{"type": "shell", "inline": ["mkdir -p /h", "mount -t tmpfs none /h", "echo inside > /h/file"]},
             {"type": "shell", "inline": ["test ! -e /h/file && echo not-mounted-any-more"]}]
            """#)
        let result = try CLI.run(["build", template], in: work.path)
        #expect(result.status.isSuccess, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(result.stdout.contains("not-mounted-any-more"))
        #expect(!(result.stdout + result.stderr).contains("EBUSY"))
        #expect(!(result.stdout + result.stderr).contains("LAST RESORT"))
    }

    /// A host command's mount under the mount path is the run's: release unmounts it first and says so.
    @Test func aMountLeftByAPostMountCommandIsUnmountedAndReported() throws {
        let template = try CLI.template(in: work.path, image: image,
                                        builder: #""post_mount_commands": ["mkdir -p {{.MountPath}}/h", "mount -t tmpfs none {{.MountPath}}/h"]"#)
        let result = try CLI.run(["build", template], in: work.path)
        let output = result.stdout + result.stderr
        #expect(result.status.isSuccess, "stdout:\n\(result.stdout)\nstderr:\n\(result.stderr)")
        #expect(output.contains("that this run did not make"), "\(output)")
        #expect(!output.contains("LAST RESORT"), "\(output)")
        #expect(CLI.leftovers(under: work.path).isEmpty, "\(CLI.leftovers(under: work.path))")
    }
}
