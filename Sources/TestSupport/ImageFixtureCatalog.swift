/// The images the layout, attach and builder tests share. Sizes stay small; xfs needs 300 MiB (sparse).
public enum ImageFixtureCatalog {
    /// Four GPT partitions whose numbers are not in disk order: on disk 3, 1, 4, 2.
    public static let gptFourUnusualOrder = ImageSpec(table: .gpt(sectorSize: 512), diskMiB: 480, partitions: [
        FixturePartition(3, startMiB: 1, sizeMiB: 32, type: FixtureType.esp, name: "EFI system", filesystem: .vfat("ESP")),
        FixturePartition(1, startMiB: 33, sizeMiB: 64, type: FixtureType.rootX86_64, name: "root", filesystem: .ext4("rootfs")),
        FixturePartition(4, startMiB: 97, sizeMiB: 8, type: FixtureType.swap, name: "swap", filesystem: .swap("swapper")),
        FixturePartition(2, startMiB: 160, sizeMiB: 300, type: FixtureType.home, name: "home", filesystem: .xfs("homefs")),
    ], files: ["etc/hostname": "fixture\n"])

    /// Two primaries, an extended partition, and three logicals (5, 6, 7), one of them btrfs.
    public static let mbrWithLogicals = ImageSpec(table: .mbr, diskMiB: 256, partitions: [
        FixturePartition(1, startMiB: 1, sizeMiB: 16, type: "ef", filesystem: .vfat("BOOT")),
        FixturePartition(2, startMiB: 17, sizeMiB: 48, type: "83", filesystem: .ext4("mbrroot")),
        FixturePartition(3, startMiB: 65, sizeMiB: 190, type: "5"),
        FixturePartition(5, startMiB: 66, sizeMiB: 8, type: "82", filesystem: .swap("mbrswap")),
        FixturePartition(6, startMiB: 75, sizeMiB: 128, type: "83", filesystem: .btrfs("mbrdata")),
        FixturePartition(7, startMiB: 204, sizeMiB: 16, type: "83", filesystem: .ext4("logical7")),
    ])

    public static let wholeDiskExt4 = ImageSpec(table: .none, diskMiB: 64, wholeDisk: .ext4("wholedisk"),
                                                files: ["etc/hostname": "whole\n"])

    public static let gptCorruptPrimary = ImageSpec(table: .gpt(sectorSize: 512), diskMiB: 64, partitions: [
        FixturePartition(1, startMiB: 1, sizeMiB: 16, type: FixtureType.esp, name: "esp", filesystem: .vfat("ESP")),
        FixturePartition(2, startMiB: 17, sizeMiB: 40, type: FixtureType.linux, name: "data", filesystem: .ext4("data")),
    ], corruptPrimaryGPT: true)

    public static let gpt4KSectors = ImageSpec(table: .gpt(sectorSize: 4096), diskMiB: 64, partitions: [
        FixturePartition(2, startMiB: 2, sizeMiB: 8, type: FixtureType.swap, name: "swap4k", filesystem: .swap("swap4k")),
        FixturePartition(1, startMiB: 16, sizeMiB: 32, type: FixtureType.rootX86_64, name: "root4k", filesystem: .ext4("root4k")),
    ])

    public static let all = [gptFourUnusualOrder, mbrWithLogicals, wholeDiskExt4, gptCorruptPrimary, gpt4KSectors]

    /// Every host program building `spec` needs.
    public static func tools(for spec: ImageSpec) -> [String] {
        var tools: [String] = []
        switch spec.table {
        case .gpt(let size): tools.append(size == 512 ? "sgdisk" : "fdisk")
        case .mbr: tools.append("sfdisk")
        case .none: break
        }
        tools += (spec.partitions.compactMap(\.filesystem) + [spec.wholeDisk].compactMap { $0 }).map(\.tool)
        if spec.format == .qcow2 { tools.append("qemu-img") }
        return Array(Set(tools)).sorted()
    }
}
