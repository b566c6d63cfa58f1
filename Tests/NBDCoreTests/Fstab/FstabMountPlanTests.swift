@testable import ImageLayout
import Testing

/// Real distribution fstabs → what the boot mounts, parents first, and each entry tied to the image's own volume.
struct FstabMountPlanTests {
    static func ext4(_ label: String?, _ uuid: String) -> FilesystemInfo { FilesystemInfo(type: .ext4, label: label, uuid: uuid) }

    static func partition(_ number: Int, _ filesystem: FilesystemInfo?, partUUID: String? = nil, name: String? = nil) -> ImageVolume {
        ImageVolume(source: .partition(number), offset: UInt64(number) << 20, size: 1 << 20, filesystem: filesystem,
                    partitionUUID: partUUID, partitionLabel: name)
    }

    static let noLVM = LVMScan(physicalVolumes: [], volumeGroups: [], warnings: [])

    func resolved(_ fstab: String, _ volumes: ImageVolumes) throws -> [(String, ImageVolume.Source, String, [String])] {
        let plan = FstabMountPlan(fstab: fstab)
        return try plan.mounts.map { mount in
            let resolution = try volumes.resolve(mount).get()
            return (mount.mountPoint, resolution.volume.source, resolution.mountType, mount.mountOptions)
        }
    }

    @Test func debianCloudByUUIDAndPARTUUID() throws {
        let volumes = ImageVolumes(volumes: [
            Self.partition(1, Self.ext4(nil, "5a2f36c9-7c5d-4b09-bb1b-b5f5f8a6e0d1"), partUUID: "11111111-aaaa-4bbb-8ccc-000000000001"),
            Self.partition(14, nil, partUUID: "11111111-aaaa-4bbb-8ccc-00000000000e"),
            Self.partition(15, FilesystemInfo(type: .vfat, label: nil, uuid: "A1B2-C3D4"), partUUID: "11111111-aaaa-4bbb-8ccc-00000000000f"),
        ], lvm: Self.noLVM)
        let fstab = """
            # /etc/fstab written by Debian's cloud image tools
            PARTUUID=11111111-AAAA-4bbb-8ccc-00000000000f /boot/efi vfat defaults 0 0
            UUID=5a2f36c9-7c5d-4b09-bb1b-b5f5f8a6e0d1 / ext4 rw,discard,errors=remount-ro,x-systemd.growfs 0 1
            """
        let mounts = try resolved(fstab, volumes)
        #expect(mounts.map(\.0) == ["/", "/boot/efi"])
        #expect(mounts.map(\.1) == [.partition(1), .partition(15)])
        #expect(mounts[0].3 == ["rw", "discard", "errors=remount-ro"])
        let root = try #require(FstabMountPlan(fstab: fstab).mounts.first)
        #expect(root.filesystemOptions == ["discard", "errors=remount-ro"])
        #expect(root.droppedOptions.map(\.option) == ["x-systemd.growfs"])
        #expect(mounts[1].2 == "vfat")
    }

    @Test func ubuntuWithXBOOTLDRBootByLabel() throws {
        let volumes = ImageVolumes(volumes: [
            Self.partition(1, Self.ext4("cloudimg-rootfs", "00000000-0000-4000-8000-000000000001")),
            Self.partition(14, nil),
            Self.partition(15, FilesystemInfo(type: .vfat, label: "UEFI", uuid: "1234-ABCD")),
            Self.partition(16, Self.ext4("BOOT", "00000000-0000-4000-8000-000000000016")),
        ], lvm: Self.noLVM)
        let fstab = """
            LABEL=cloudimg-rootfs\t/\t ext4\tdiscard,commit=30,errors=remount-ro\t0 1
            LABEL=BOOT\t/boot\text4\tdefaults\t0 2
            LABEL=UEFI\t/boot/efi\tvfat\tumask=0077\t0 1
            """
        let mounts = try resolved(fstab, volumes)
        #expect(mounts.map(\.0) == ["/", "/boot", "/boot/efi"])
        #expect(mounts.map(\.1) == [.partition(1), .partition(16), .partition(15)])
        #expect(mounts[1].3.isEmpty)  // "defaults" is mount(2)'s own default
        #expect(mounts[2].3 == ["umask=0077"])
    }

    @Test func rhelXfsBootOnP3AndRootOnP4() throws {
        let volumes = ImageVolumes(volumes: [
            Self.partition(1, nil), Self.partition(2, FilesystemInfo(type: .vfat, label: nil, uuid: "7B77-95E7")),
            Self.partition(3, FilesystemInfo(type: .xfs, label: "boot", uuid: "c6e0e1a2-0000-4000-8000-000000000003")),
            Self.partition(4, FilesystemInfo(type: .xfs, label: "root", uuid: "c6e0e1a2-0000-4000-8000-000000000004")),
        ], lvm: Self.noLVM)
        let fstab = """
            UUID=c6e0e1a2-0000-4000-8000-000000000004 /                       xfs     defaults        0 0
            UUID=c6e0e1a2-0000-4000-8000-000000000003 /boot                   xfs     defaults        0 0
            UUID=7B77-95E7          /boot/efi               vfat    defaults,uid=0,gid=0,umask=077,shortname=winnt 0 2
            """
        let mounts = try resolved(fstab, volumes)
        #expect(mounts.map(\.1) == [.partition(4), .partition(3), .partition(2)])
        #expect(mounts[2].3 == ["uid=0", "gid=0", "umask=077", "shortname=winnt"])
    }

    @Test func fedoraBtrfsSubvolumesExt4BootAndVfatESP() throws {
        let btrfs = FilesystemInfo(type: .btrfs, label: "fedora", uuid: "f0000000-0000-4000-8000-000000000004")
        let volumes = ImageVolumes(volumes: [
            Self.partition(1, nil), Self.partition(2, FilesystemInfo(type: .vfat, label: nil, uuid: "F00D-0002")),
            Self.partition(3, Self.ext4(nil, "f0000000-0000-4000-8000-000000000003")), Self.partition(4, btrfs),
        ], lvm: Self.noLVM)
        let fstab = """
            UUID=f0000000-0000-4000-8000-000000000004 /                       btrfs   subvol=root,compress=zstd:1 0 0
            UUID=f0000000-0000-4000-8000-000000000003 /boot                   ext4    defaults        1 2
            UUID=F00D-0002          /boot/efi               vfat    umask=0077,shortname=winnt 0 2
            UUID=f0000000-0000-4000-8000-000000000004 /home                   btrfs   subvol=home,compress=zstd:1,x-systemd.device-timeout=0 0 0
            """
        let plan = FstabMountPlan(fstab: fstab)
        #expect(plan.mounts.map(\.mountPoint) == ["/", "/boot", "/home", "/boot/efi"])
        #expect(plan.mounts.map(\.subvolume) == ["root", nil, "home", nil])
        #expect(plan.mounts[2].mountOptions == ["subvol=home", "compress=zstd:1"])
        #expect(plan.mounts[2].droppedOptions.first?.reason.contains("userspace") == true)
        let mounts = try resolved(fstab, volumes)
        #expect(mounts.map(\.1) == [.partition(4), .partition(3), .partition(4), .partition(2)])
    }

    @Test func lvmRootThroughDeviceMapperNames() throws {
        let root = ImageVolume(source: .logicalVolume(group: "vg0", volume: "root"), offset: 3 << 20, size: 8 << 20,
                               filesystem: Self.ext4(nil, "1e000000-0000-4000-8000-000000000001"), partitionUUID: nil, partitionLabel: nil)
        let volumes = ImageVolumes(volumes: [Self.partition(1, Self.ext4("boot", "1e000000-0000-4000-8000-0000000000b0")), Self.partition(2, FilesystemInfo(type: .lvm2, label: nil, uuid: nil)), root],
                                   lvm: Self.noLVM,
                                   unsupportedLogicalVolumes: [UnsupportedLogicalVolume(group: "vg0", volume: "pool", kind: "thin-pool")])
        let fstab = """
            /dev/mapper/vg0-root    /                       ext4    defaults        1 1
            UUID=1e000000-0000-4000-8000-0000000000b0 /boot ext4    defaults        1 2
            /dev/mapper/vg0-swap    none                    swap    defaults        0 0
            /dev/vg0/pool           /srv                    ext4    defaults        0 0
            """
        let plan = FstabMountPlan(fstab: fstab)
        #expect(plan.leftOut.map(\.kind) == [.swap])
        #expect(try volumes.resolve(plan.mounts[0]).get().volume == root)
        #expect(try volumes.resolve(plan.mounts[1]).get().volume.source == .partition(1))
        #expect(throws: DeviceResolutionError(entry: plan.mounts[2].entry, spec: "/dev/vg0/pool",
                                              message: "LVM volume vg0/pool is of unsupported kind thin-pool; only linear LVs are "
                                                  + "mapped: one segment through a loop device or partition, several through device-mapper")) {
            try volumes.resolve(plan.mounts[2]).get()
        }
        #expect(throws: DeviceResolutionError.self) { try volumes.resolve("/dev/mapper/vg1-root").get() }
        #expect(throws: DeviceResolutionError.self) { try volumes.resolve("/dev/vg0/home").get() }
    }

    @Test func aDeviceTheImageLacksIsAnErrorNamingTheEntry() throws {
        let volumes = ImageVolumes(volumes: [Self.partition(1, Self.ext4("root", "00000000-0000-4000-8000-000000000001"))], lvm: Self.noLVM)
        let plan = FstabMountPlan(fstab: """
            LABEL=root / ext4 defaults 0 1
            UUID=deadbeef-0000-4000-8000-000000000000 /data ext4 defaults 0 2
            /dev/sdb1 /backup ext4 nofail 0 2
            /dev/sda9 /var ext4 defaults 0 2
            LABEL=root /mnt xfs defaults 0 2
            """)
        let errors = plan.mounts.compactMap { mount -> String? in
            if case .failure(let error) = volumes.resolve(mount) { return error.description }
            return nil
        }
        #expect(errors == [
            "fstab line 2 (UUID=deadbeef-0000-4000-8000-000000000000 on /data): the image has no volume with filesystem UUID deadbeef-0000-4000-8000-000000000000; it has partition 1 (ext4, label root)",
            "fstab line 3 (/dev/sdb1 on /backup): sdb is not the image's disk: an image is one disk, which boots as sda, vda, xvda, hda, nvme0n1, mmcblk0; sdb would be another one",
            "fstab line 4 (/dev/sda9 on /var): the image has no volume with partition number 9; it has partition 1 (ext4, label root)",
            "fstab line 5 (LABEL=root on /mnt): fstab says xfs but partition 1 (ext4, label root) holds ext4",
        ])
        #expect(plan.mounts.first { $0.mountPoint == "/backup" }?.nofail == true)
    }

    @Test func leftOutEntriesCarryReasons() {
        let plan = FstabMountPlan(fstab: """
            proc /proc proc defaults 0 0
            tmpfs /tmp tmpfs mode=1777 0 0
            server:/export /mnt/nfs nfs4 defaults 0 0
            //host/share /mnt/smb cifs credentials=/etc/c 0 0
            user@host:/ /mnt/ssh fuse.sshfs defaults 0 0
            /srv/a /srv/b none bind 0 0
            /dev/sda3 /opt ext4 noauto 0 0
            /dev/sda4 /efi vfat noauto,x-systemd.automount 0 0
            /dev/sda5 /iscsi ext4 _netdev 0 0
            /var/disk.img /mnt/img ext4 loop 0 0
            /dev/sda6 relative ext4 defaults 0 0
            /dev/sda7 /srv/../etc ext4 defaults 0 0
            /dev/sda8 /data ext4 X-mount.subdir=sub 0 0
            /dev/sda1 / ext4 defaults 0 1
            /dev/sda2 / ext4 defaults 0 1
            /dev/sda9 /home ext4 user,exec 0 2
            """)
        #expect(plan.leftOut.map(\.kind) == [.pseudo, .pseudo, .network, .network, .network, .bind, .noauto, .network,
                                             .notABlockDevice, .invalidMountPoint, .invalidMountPoint, .unsupported,
                                             .duplicateMountPoint])
        #expect(plan.leftOut.allSatisfy { !$0.reason.isEmpty })
        #expect(plan.mounts.map(\.mountPoint) == ["/", "/efi", "/home"])
        #expect(plan.mounts[1].automount)
        #expect(plan.mounts[2].mountOptions == ["noexec", "nosuid", "nodev", "exec"])
    }
}
