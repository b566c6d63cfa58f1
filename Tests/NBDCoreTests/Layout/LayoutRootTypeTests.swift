@testable import ImageLayout
import Testing

/// The DPS root type is the image's architecture, not the host's.
struct LayoutRootTypeTests {
    func disk(_ types: [String]) throws -> DiskLayout {
        let size = 64 << 20
        let disk = MemoryDisk(bytes: [UInt8](repeating: 0, count: size))
        let specs = try types.map { GPTPartitionSpec(type: try #require(GUID($0)), size: 8 << 20) }
        disk.apply(try GPTWriter.fresh(diskSize: UInt64(size), partitions: specs))
        for index in types.indices {
            disk.apply([DiskWrite(offset: UInt64(1 + 8 * index) << 20 + 1080, bytes: [0x53, 0xEF])])  // ext magic
        }
        return try DiskLayout.read(from: disk)
    }

    @Test func foreignArchitectureRootWinsOverALowerNumberedLinuxPartition() throws {
        let foreign = Architecture.host == .arm64 ? "4f68bce3-e8cd-4db1-96e7-fbcaf984b709" : "b921b045-1df0-41c3-af44-4c6f280d3fae"
        let layout = try disk(["0fc63daf-8483-4772-8e79-3d69d8477de4", foreign])
        #expect(layout.partitions[1].type.role?.isRoot == true)
        #expect(layout.defaultRootNumber == 2)
    }

    @Test func hostRootStillComesFirst() throws {
        let host = try #require(PartitionType.rootType(for: Architecture.host))
        let layout = try disk(["b921b045-1df0-41c3-af44-4c6f280d3fae", "72ec70a6-cf74-40e6-bd49-4bda08e8f224", host])
        #expect(layout.defaultRootNumber == (Architecture.host == .arm64 ? 1 : 3))
    }

    @Test func everyArchitectureHasARootType() {
        for architecture in Architecture.allCases {
            #expect(PartitionType.rootType(for: architecture) != nil, "\(architecture)")
        }
        #expect(PartitionType(.gpt(GUID("993d8d3d-f80e-4225-855a-9daf8ed7ea97")!)).role == .root(.ia64))
        #expect(PartitionType(.gpt(GUID("c97c1f32-ba06-40b4-9f22-236061b08aa8")!)).role == .usr(.mips64LE))
    }
}
