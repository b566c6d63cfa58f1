import Glibc
import NBDCore
import TestSupport
import Testing

private let cases: [(ImageSpec, Int)] = [
    (ImageFixtureCatalog.wholeDiskExt4, 0),
    (ImageFixtureCatalog.mbrWithLogicals, 6),
    (ImageFixtureCatalog.mbrWithLogicals, 7),
    (ImageFixtureCatalog.gpt4KSectors, 1),
]
private let skip = Host.missing(
    programs: ["qemu-storage-daemon"] + cases.flatMap { ImageFixtureCatalog.tools(for: $0.0) },
    root: true, loop: true, fuse: true)

/// Every table kind and a whole-disk filesystem, through both loop-based modes: the device holds exactly
/// the volume the layout names (its filesystem is found at offset 0 of the device).
@Suite(.enabled(if: skip == nil, "attach layout tests: \(skip ?? "")"), .timeLimit(.minutes(3)),
       .prebuiltFixtures(cases.flatMap { [$0.0, $0.0.formatted(.qcow2)] }))
struct AttachLayoutTests {
    @Test(arguments: cases.indices)
    func volumeDeviceHoldsTheVolume(index: Int) throws {
        let (spec, number) = cases[index]
        for (image, mode) in [(try ImageFixtures.build(spec).image, AttachMode.loop),
                              (try ImageFixtures.build(spec.formatted(.qcow2)).image, .fuse)] {
            let format = try ImageProbe.probe(path: image).format
            let attached = try Attacher.attach(
                AttachRequest(image: image, format: format, readOnly: true, mode: mode), ledger: nil)
            defer { try? attached.detach() }
            let volume = try DiskLayout.read(from: attached.disk).volume(mountPartition: number)
            let device = try attached.blockDevice(for: volume)
            let reader = try FileBlockReader(path: device)
            #expect(reader.size == volume.size, "\(mode.rawValue) partition \(number)")
            #expect(try FilesystemProbe.probe(reader, offset: 0, size: reader.size) == volume.filesystem,
                    "\(mode.rawValue) partition \(number)")
        }
    }
}
