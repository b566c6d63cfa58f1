import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// `qemu-chroot validate` as a user runs it: every problem listed, exit 1; exit 0 when valid.
@Suite struct ValidateCommandTests {
    @Test func invalidTemplatesListEveryErrorAndExitOne() throws {
        let work = try TemporaryDirectory("builder-validate")
        try writeFile(work.file("bad.json"), #"""
        {"builders": [{"type": "qemu-chroot", "source_imag": "x", "compresion": true}],
         "provisioners": [{"type": "puppet"}]}
        """#)
        let result = try CLI.run(["validate", "-var-file", "/dev/null", "bad.json"], in: work.path)
        #expect(result.status == .exited(1))
        try writeFile(work.file("empty.json"), "{}")
        let onlyTemplate = try CLI.run(["validate", "bad.json"], in: work.path)
        #expect(onlyTemplate.status == .exited(1))
        for expected in ["builders[0].source_imag: unknown option; did you mean \"source_image\"?",
                         "builders[0].compresion: unknown option; did you mean \"compression\"?",
                         "builders[0].source_image: is required",
                         "provisioners[0].type: provisioner type \"puppet\" is not supported by the standalone runner; use packer build"] {
            #expect(onlyTemplate.stderr.contains(expected), "missing \(expected) in \(onlyTemplate.stderr)")
        }
        let empty = try CLI.run(["validate", "empty.json"], in: work.path)
        #expect(empty.status == .exited(1))
        #expect(empty.stderr.contains("builders: at least one builder is required"))
    }

    @Test func aValidTemplateExitsZero() throws {
        let work = try TemporaryDirectory("builder-validate")
        try writeFile(work.file("base.img"), "x")
        try writeFile(work.file("ok.json"), #"{"variables": {"img": "base.img"}, "builders": [{"type": "qemu-chroot", "source_image": "{{user `img`}}"}]}"#)
        let result = try CLI.run(["validate", "-var", "img=base.img", "-only=qemu-chroot", "ok.json"], in: work.path)
        #expect(result.status == .exited(0), "\(result.stderr)")
    }
}
