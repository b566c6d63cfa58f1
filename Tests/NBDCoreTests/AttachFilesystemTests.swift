import Glibc
import NBDCore
import TestSupport
import Testing

private let skip = Host.missing(programs: AttachFixture.programs + ["qemu-storage-daemon", "e2fsck"], root: true,
                                loop: true, fuse: true)

/// A filesystem mounted from the attached volume and written to must come out consistent after detach.
@Suite(.enabled(if: skip == nil, "attach filesystem tests: \(skip ?? "")"), .timeLimit(.minutes(2)),
       .prebuiltFixtures(AttachFixture.specs))
struct AttachFilesystemTests {
    /// `scratch` (a build's overlay) skips the flushes to the host's disk: the image file must still hold
    /// every write once detached, read back through the page cache.
    @Test(arguments: [(AttachMode.fuse, false), (.fuse, true), (.loop, false)])
    func ext4WritesSurviveDetach(mode: AttachMode, scratch: Bool) throws {
        let fixture = try AttachFixture()
        let image = mode == .fuse ? fixture.qcow2 : fixture.raw
        var request = AttachRequest(image: image, format: try ImageProbe.probe(path: image).format, mode: mode)
        request.scratch = scratch
        let attached = try Attacher.attach(request, ledger: nil)
        defer { try? attached.detach() }
        let device = try attached.blockDevice(for: try fixture.volume(of: attached))
        let target = fixture.directory.file("mnt")
        mkdir(target, 0o755)
        try syscall("mount", path: device) { mount(device, target, "ext4", 0, nil) }
        var mounted = true
        defer { if mounted { umount2(target, Int32(MNT_DETACH)) } }

        mkdir("\(target)/many", 0o755)
        for index in 0..<200 {
            let file = try FileDescriptor.open("\(target)/many/file\(index)", O_WRONLY | O_CREAT, mode: 0o644)
            try file.writeAll([UInt8](repeating: UInt8(index & 0xff), count: 100 + index * 97))
            try file.close()
        }
        try syscall("umount2", path: target) { umount2(target, 0) }
        mounted = false
        try attached.flush()
        try attached.detach()

        #expect(try fixture.fsckProblems(image) == nil)
        if mode == .fuse { try Command.check("qemu-img", ["check", "-q", image]) }
    }
}
