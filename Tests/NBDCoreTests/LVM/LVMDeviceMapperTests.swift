import CNBD
@testable import ImageAttach
import Testing

/// What we hand device-mapper, checked without a kernel: the run-unique names and the DM_TABLE_LOAD buffer's
/// layout (linux/dm-ioctl.h; the VM run maps real devices with it).
struct LVMDeviceMapperTests {
    @Test func namesAreRunUniqueAndDoubleDashesAsLvm2Does() {
        #expect(LogicalVolumeDevices.name(runID: "0123456789abcdef", group: "ubuntu-vg", volume: "ubuntu-lv", index: 0)
            == "qemu-chroot-0123456789abcdef-ubuntu--vg-ubuntu--lv")
        let long = String(repeating: "v", count: 120)
        #expect(LogicalVolumeDevices.name(runID: "0123456789abcdef", group: long, volume: "root", index: 3)
            == "qemu-chroot-0123456789abcdef-lv3")
    }

    @Test func tableLoadBufferHasTheKernelsLayout() throws {
        var buffer = [UInt8](repeating: 0xAA, count: 1024)
        let params = "7:3 2048"
        let used = buffer.withUnsafeMutableBytes { raw in
            "linear".withCString { type in
                params.withCString { parameters in
                    var target = cnbd_dm_target(start_sector: 8, sectors: 4096, type: type, params: parameters)
                    return cnbd_dm_encode(raw.baseAddress!, 1024, "qemu-chroot-x-vg0-root", "QEMU-CHROOT-x-0", 1, &target, 1)
                }
            }
        }
        func u32(_ at: Int) -> UInt32 { buffer[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        func u64(_ at: Int) -> UInt64 { buffer[at..<at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        func text(_ at: Int) -> String { String(decoding: buffer[at...].prefix { $0 != 0 }, as: UTF8.self) }
        // struct dm_ioctl (312 bytes), then one dm_target_spec (40 bytes) and "7:3 2048\0" padded to 8.
        #expect(used == 312 + 40 + 16)
        #expect([u32(0), u32(4), u32(8)] == [4, 0, 0])     // version 4.0.0: any 4.x kernel takes it
        #expect(u32(12) == UInt32(used))                    // data_size
        #expect(u32(16) == 312)                             // data_start
        #expect(u32(20) == 1)                               // target_count
        #expect(u32(28) == 1)                               // flags: DM_READONLY_FLAG
        #expect(text(48) == "qemu-chroot-x-vg0-root")       // name[128]
        #expect(text(176) == "QEMU-CHROOT-x-0")             // uuid[129]
        #expect(u64(312) == 8 && u64(320) == 4096)          // sector_start, length
        #expect(u32(332) == 56)                             // next: this spec and its padded parameters
        #expect(text(336) == "linear")                      // target_type[16]
        #expect(text(352) == params)
        #expect(buffer[used] == 0, "the rest of the buffer is zeroed for the kernel's answer")
    }

    @Test func namesTooLongForTheKernelAreRefused() {
        var buffer = [UInt8](repeating: 0, count: 1024)
        let used = buffer.withUnsafeMutableBytes { cnbd_dm_encode($0.baseAddress!, 1024, String(repeating: "n", count: 128), nil, 0, nil, 0) }
        #expect(used == 0)
    }
}
