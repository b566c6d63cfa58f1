import Builder
import NBDCore
import Testing
import TestSupport

/// `host_binfmt` (docs/cross-arch.md): on by default; false forbids the fallback that registers the emulator in
/// the host's binfmt_misc on kernels without a private one. The Packer plugin reads the same key (QemuChrootSpec).
@Suite struct HostBinfmtOptionTests {
    @Test func defaultsToTrueAndReadsABool() throws {
        let work = try TemporaryDirectory()
        let image = work.file("base.qcow2")
        try writeFile(image, "not really an image")
        func plan(_ extra: String) throws -> BuildPlan {
            try BuildPlan.make(try Template.parse(#"{"builders": [{"type": "qemu-chroot", "source_image": "\#(image)"\#(extra)}]}"#),
                               options: BuildPlan.Options())
        }
        #expect(try plan("").builds[0].config.hostBinfmt)
        #expect(try !plan(#", "host_binfmt": false"#).builds[0].config.hostBinfmt)
        let error = #expect(throws: TemplateErrors.self) { try plan(#", "host_binfmt": "no""#) }
        #expect(error?.problems.contains { $0.description.contains("host_binfmt") } == true, "\(String(describing: error))")
    }
}
