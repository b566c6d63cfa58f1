import Glibc
import NBDCore
@testable import ImageLayout
@testable import QemuTools
@testable import HostSystem
import Testing
import TestSupport

/// A small deterministic generator, so a failure reproduces from the seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random mutation of the first and last MiB of every fixture: the parser must throw or succeed, never trap
/// or hang. Some mutations re-seal the GPT checksums so the damage reaches the deeper validation.
@Suite(.serialized) struct LayoutFuzzTests {
    static let seed: UInt64 = 0x5EED_0001
    static let iterations = 1000  // per fixture: 5000 mutated images in all
    static let edge = 1 << 20

    @Test(.enabled(if: Host.missing(programs: ["sgdisk", "sfdisk", "fdisk", "mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "mkfs.vfat", "mkswap"]) == nil,
                   "needs the fixture tools (run scripts/setup)"))
    func mutatedImagesNeverCrashTheParser() throws {
        var random = SplitMix64(state: LayoutFuzzTests.seed)
        var outcomes: [String: Int] = [:]
        for spec in ImageFixtureCatalog.all {
            let fixture = try ImageFixtures.build(spec)
            let disk = try MemoryDisk(caching: FileBlockReader(path: fixture.rawImage), edge: LayoutFuzzTests.edge)
            let (head, tail) = (disk.head, disk.tail)
            let sectorSize: Int
            if case .gpt(let size) = spec.table { sectorSize = size } else { sectorSize = 512 }
            for _ in 0..<LayoutFuzzTests.iterations {
                disk.head = head
                disk.tail = tail
                mutate(disk, sectorSize: sectorSize, using: &random)
                do {
                    let layout = try DiskLayout.read(from: disk)
                    _ = try? layout.volume(mountPartition: nil)
                    _ = try? layout.volume(mountPartition: Int.random(in: -1...9, using: &random))
                    _ = try? layout.growLastPartition(newDiskSize: disk.size + UInt64.random(in: 0...(1 << 30), using: &random))
                    outcomes["parsed", default: 0] += 1
                } catch is LayoutError {
                    outcomes["layout error", default: 0] += 1
                } catch {
                    outcomes["other error", default: 0] += 1
                }
            }
        }
        print("fuzz outcomes: \(outcomes.sorted { $0.key < $1.key })")
        // Both paths must be exercised, or the mutations are too weak or too strong to mean anything.
        #expect(outcomes["parsed", default: 0] > 500)
        #expect(outcomes["layout error", default: 0] > 100)
    }

    /// Mutated QCOW2 headers: the image probe answers qcow2, raw or a LayoutError, never traps.
    @Test(.enabled(if: Host.missing(programs: ["qemu-img"]) == nil, "needs qemu-img"))
    func mutatedQcow2HeadersNeverCrashTheImageProbe() throws {
        let dir = try TemporaryDirectory()
        let original = dir.file("original.qcow2"), path = dir.file("mutated.qcow2")
        try Command.check("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "/nonexistent/base.qcow2", "-u", original, "1G"])
        let header = try FileBlockReader(path: original).read(at: 0, count: 512)
        var random = SplitMix64(state: LayoutFuzzTests.seed)
        var rejected = 0
        for _ in 0..<LayoutFuzzTests.iterations {
            var bytes = header
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let offset = Int.random(in: 0..<112, using: &random)
                bytes[offset] = [0, 0xFF, UInt8.random(in: 0...255, using: &random)].randomElement(using: &random)!
            }
            let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC)
            try file.writeAll(Array(bytes.prefix(Int.random(in: 0...512, using: &random))))
            try file.close()
            do { _ = try ImageProbe.probe(path: path) } catch is LayoutError { rejected += 1 }
        }
        #expect(rejected > 100)
    }

    private func mutate(_ disk: MemoryDisk, sectorSize: Int, using random: inout SplitMix64) {
        let ss = sectorSize
        // Places where the tables live: MBR entries, GPT header fields, the first entries, EBRs, superblocks.
        let hotspots = [446, 462, 478, 494, 510, ss + 8, ss + 12, ss + 24, ss + 32, ss + 40, ss + 48, ss + 72,
                        ss + 80, ss + 84, 2 * ss + 32, 2 * ss + 40, 2 * ss + 160, 2 * ss + 168, 1080, 1024 + 56]
        for _ in 0..<Int.random(in: 1...6, using: &random) {
            let inHead = Bool.random(using: &random)
            let length = inHead ? disk.head.count : disk.tail.count
            var offset = Int.random(in: 0..<length, using: &random)
            if inHead, Int.random(in: 0..<3, using: &random) > 0 {
                offset = hotspots.randomElement(using: &random)! + Int.random(in: 0..<8, using: &random)
            }
            let value: UInt8 = [0, 0xFF, 0x05, 0x80, UInt8.random(in: 0...255, using: &random)].randomElement(using: &random)!
            if inHead { if offset < disk.head.count { disk.head[offset] = value } } else { disk.tail[offset] = value }
        }
        if Bool.random(using: &random) { reseal(&disk.head, at: ss, sectorSize: ss) }
    }

    /// Recomputes the primary header's array and header CRCs, so mutated entries pass the checksums.
    private func reseal(_ head: inout [UInt8], at headerOffset: Int, sectorSize: Int) {
        guard head.matches("EFI PART", at: headerOffset) else { return }
        let arrayOffset = Int(clamping: head.le64(headerOffset + 72)) &* sectorSize
        let arrayBytes = Int(head.le32(headerOffset + 80)) * Int(head.le32(headerOffset + 84))
        if arrayOffset >= 0, arrayBytes > 0, arrayOffset <= head.count - arrayBytes {
            head.putLE32(CRC32.checksum(head[arrayOffset..<arrayOffset + arrayBytes]), at: headerOffset + 88)
        }
        let headerSize = Int(head.le32(headerOffset + 12))
        guard (92...sectorSize).contains(headerSize) else { return }
        head.putLE32(0, at: headerOffset + 16)
        head.putLE32(CRC32.checksum(head[headerOffset..<headerOffset + headerSize]), at: headerOffset + 16)
    }
}
