@testable import ImageLayout
import Testing

/// fs_spec forms → what they name on the image, never a host device.
struct FstabDeviceSpecTests {
    @Test(arguments: [
        ("UUID=abc", DeviceSpec.uuid("abc")), ("UUID=\"abc\"", .uuid("abc")), ("LABEL=root", .label("root")),
        ("PARTUUID=1234-01", .partUUID("1234-01")), ("PARTLABEL=EFI system", .partLabel("EFI system")),
        ("/dev/disk/by-uuid/abc", .uuid("abc")), ("/dev/disk/by-label/a\\x2fb\\x20c", .label("a/b c")),
        ("/dev/disk/by-partuuid/p-1", .partUUID("p-1")), ("/dev/disk/by-partlabel/boot\\x2dx", .partLabel("boot-x")),
        ("/dev/sda1", .partition(disk: "sda", number: 1)), ("/dev/vda15", .partition(disk: "vda", number: 15)),
        ("/dev/xvda2", .partition(disk: "xvda", number: 2)), ("/dev/hda", .partition(disk: "hda", number: 0)),
        ("/dev/sdb1", .partition(disk: "sdb", number: 1)),
        ("/dev/nvme0n1p2", .partition(disk: "nvme0n1", number: 2)), ("/dev/nvme1n1", .partition(disk: "nvme1n1", number: 0)),
        ("/dev/mmcblk0p1", .partition(disk: "mmcblk0", number: 1)),
        ("/dev/mapper/vg0-root", .logicalVolume(group: "vg0", volume: "root")),
        ("/dev/mapper/ubuntu--vg-ubuntu--lv", .logicalVolume(group: "ubuntu-vg", volume: "ubuntu-lv")),
        ("/dev/rhel/root", .logicalVolume(group: "rhel", volume: "root")), ("/dev/root", .kernelRoot),
    ])
    func specNames(_ spec: String, _ expected: DeviceSpec) {
        #expect(DeviceSpec(spec) == expected)
    }

    @Test(arguments: ["/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001-part1", "/dev/mapper/luks", "tmpfs", "/dev/sda1x",
                      "/dev/disk/by-label/", "/dev/mapper/a-b-c"])
    func unknownFormsSayWhy(_ spec: String) {
        guard case .unknown(let why) = DeviceSpec(spec) else {
            Issue.record("\(spec) should not name a volume: \(DeviceSpec(spec))")
            return
        }
        #expect(why.contains(spec))
    }
}
