import Builder
import Glibc
import NBDCore
import TestSupport

/// Disks laid out as distributions ship them (docs in /work/shared/reference/real-images.md), made here with
/// sgdisk, mkfs and a busybox userland, and read back with the host's own tools: a loop device at each
/// partition's offset (the kernel here parses no partition tables) mounted in a throw-away mount namespace.
enum DistributionLayout: String, Sendable {
    /// p1 BIOS boot, p2 ESP (no vfat here: left empty), p3 xfs /boot (label boot), p4 xfs root (label root),
    /// Linux partitions typed 8300, fstab by UUID.
    case rhel
    /// p1 BIOS boot, p2 ESP, p3 ext4 /boot, p4 btrfs (label fedora) with subvolumes root and home; the default
    /// subvolume stays the top level; fstab `subvol=root`, `subvol=home`.
    case fedora
    /// Debian 12 genericcloud: p14 BIOS boot, p15 ESP (vfat, label UEFI) at /boot/efi, p1 ext4 root after them
    /// on the disk; fstab by PARTUUID (root) and UUID (ESP).
    case debian
    /// Ubuntu 24.04 cloud: p14 BIOS boot, p15 ESP (vfat, label UEFI), p16 ext4 /boot typed XBOOTLDR (label
    /// BOOT), p1 ext4 root (label cloudimg-rootfs); fstab by LABEL.
    case ubuntu

    static let requirements = Host.missing(programs: ["busybox", "sgdisk", "mkfs.xfs", "mkfs.ext4", "mkfs.btrfs",
                                                      "btrfs", "losetup", "unshare", "qemu-img", "qemu-storage-daemon",
                                                      "mkfs.vfat", "mmd", "mcopy", "mtype"],
                                           root: true, loop: true, fuse: true)
    /// Why a build that mounts an ESP cannot run here (nil where the kernel has vfat).
    static let vfatMissing = HostFilesystems.supports("vfat") ? nil
        : "this kernel has no vfat driver: the ESP cannot be mounted here (runs in the VM: make vm-test)"

    static let rootUUID = "5b9d2a31-7c4e-4f0a-9a43-2f1c3e8d1a01"
    static let bootUUID = "5b9d2a31-7c4e-4f0a-9a43-2f1c3e8d1a02"
    static let rootPartitionUUID = "6c0e3b42-8d5f-4a1b-8b54-3a2d4f9e2b01"
    static let espUUID = "7B77-95E7"

    var fstab: String {
        switch self {
        case .rhel:
            return """
                UUID=\(Self.rootUUID) / xfs defaults 0 0
                UUID=\(Self.bootUUID) /boot xfs defaults 0 0
                UUID=7B77-95E7 /boot/efi vfat defaults,uid=0,gid=0,umask=077,shortname=winnt 0 2

                """
        case .fedora:
            return """
                UUID=\(Self.rootUUID) / btrfs subvol=root,compress=zstd:1 0 0
                UUID=\(Self.bootUUID) /boot ext4 defaults 1 2
                UUID=\(Self.rootUUID) /home btrfs subvol=home,compress=zstd:1 0 0
                UUID=7B77-95E7 /boot/efi vfat umask=0077,shortname=winnt 0 2

                """
        case .debian:
            return """
                PARTUUID=\(Self.rootPartitionUUID) / ext4 rw,discard,errors=remount-ro,x-systemd.growfs 0 1
                UUID=\(Self.espUUID) /boot/efi vfat defaults 0 0

                """
        case .ubuntu:
            return """
                LABEL=cloudimg-rootfs\t/\t ext4\tdiscard,commit=30,errors=remount-ro\t0 1
                LABEL=BOOT\t/boot\text4\tdefaults\t0 2
                LABEL=UEFI\t/boot/efi\tvfat\tumask=0077\t0 1

                """
        }
    }

    /// Partition numbers: the root, /boot (nil: a directory of the root) and the ESP (nil: no filesystem).
    var root: Int { self == .debian || self == .ubuntu ? 1 : 4 }
    var boot: Int? { self == .debian ? nil : self == .ubuntu ? 16 : 3 }
    var esp: Int? { self == .debian || self == .ubuntu ? 15 : nil }

    /// Builds the disk in `directory` (its fstab followed by `extraFstab`) and returns the qcow2 path.
    func make(in directory: String, extraFstab: String = "") throws -> String {
        let seed = "\(directory)/seed"
        for dir in ["bin", "sbin", "etc", "boot/efi", "home", "root", "proc", "sys", "dev", "tmp", "usr/lib"] {
            try Command.check("/bin/mkdir", ["-p", "\(seed)/\(dir)"])
        }
        try Command.check("/bin/cp", [try ExecutableLookup.resolve("busybox"), "\(seed)/bin/busybox"])
        for applet in ["sh", "cat", "echo", "ls", "mkdir", "test"] { symlink("busybox", "\(seed)/bin/\(applet)") }
        try writeFile("\(seed)/etc/fstab", fstab + extraFstab)
        try writeFile("\(seed)/usr/lib/os-release", "ID=\(rawValue)\n")
        let bootSeed = "\(directory)/bootseed"
        try Command.check("/bin/mkdir", ["-p", "\(bootSeed)/efi"])
        try writeFile("\(bootSeed)/vmlinuz-test", "kernel\n")
        try writeFile("\(bootSeed)/grubx64.efi", "shim\n")
        if self == .debian || self == .ubuntu {
            try Command.check("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", cloudScript, "_", directory])
            return try qcow2(in: directory)
        }
        // Sizes in MiB; xfs needs 300 MiB per filesystem.
        let (bootMiB, rootMiB) = self == .rhel ? (320, 320) : (64, 160)
        let bootType = "8300", rootType = "8300"
        let script = """
            set -e
            cd "$1"
            truncate -s \(2 + 8 + bootMiB + rootMiB + 2)M disk.raw
            sgdisk -n 1:2048:+1M -t 1:EF02 -n 2:0:+8M -t 2:EF00 -n 3:0:+\(bootMiB)M -t 3:\(bootType) \
                -n 4:0:+\(rootMiB)M -t 4:\(rootType) disk.raw >/dev/null
            truncate -s \(bootMiB)M boot.fs; truncate -s \(rootMiB)M root.fs
            mkdir -p m
            \(self == .rhel ? """
            mkfs.xfs -q -f -L boot -m uuid=\(Self.bootUUID) boot.fs
            mkfs.xfs -q -f -L root -m uuid=\(Self.rootUUID) root.fs
            mount -o loop boot.fs m; cp -a bootseed/. m/; umount m
            mount -o loop root.fs m; cp -a seed/. m/; umount m
            """ : """
            mkfs.ext4 -q -F -L boot -U \(Self.bootUUID) -d bootseed boot.fs
            mkfs.btrfs -q -f -L fedora -U \(Self.rootUUID) root.fs
            mount -o loop root.fs m; btrfs -q subvolume create m/root; btrfs -q subvolume create m/home
            cp -a seed/. m/root/; umount m
            """)
            rmdir m
            dd if=boot.fs of=disk.raw bs=1M seek=\(2 + 8) conv=notrunc status=none
            dd if=root.fs of=disk.raw bs=1M seek=\(2 + 8 + bootMiB) conv=notrunc status=none
            rm boot.fs root.fs
            """
        try Command.check("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script, "_", directory])
        return try qcow2(in: directory)
    }

    /// Debian and Ubuntu cloud disks: BIOS boot and ESP first on the disk, (XBOOTLDR /boot,) root last. The
    /// ESP's contents are written with mtools: this kernel has no vfat.
    private var cloudScript: String {
        let xbootldr = self == .ubuntu
        let (espMiB, bootMiB, rootMiB) = (16, xbootldr ? 64 : 0, 96)
        return """
            set -e
            cd "$1"
            truncate -s \(2 + espMiB + bootMiB + rootMiB + 1)M disk.raw
            sgdisk -n 14:2048:+1M -t 14:EF02 -n 15:0:+\(espMiB)M -t 15:EF00 \
                \(xbootldr ? "-n 16:0:+\(bootMiB)M -t 16:EA00" : "") \
                -n 1:0:+\(rootMiB)M -t 1:8300 -u 1:\(Self.rootPartitionUUID) disk.raw >/dev/null
            truncate -s \(espMiB)M esp.fs; truncate -s \(rootMiB)M root.fs
            mkfs.vfat -F 16 -i \(Self.espUUID.filter { $0 != "-" }) -n UEFI esp.fs >/dev/null
            mmd -i esp.fs ::/EFI ::/EFI/\(rawValue)
            mcopy -i esp.fs bootseed/grubx64.efi ::/EFI/\(rawValue)/grubx64.efi
            mkfs.ext4 -q -F -L \(xbootldr ? "cloudimg-rootfs" : "root") -d seed root.fs
            dd if=esp.fs of=disk.raw bs=1M seek=2 conv=notrunc status=none
            \(xbootldr ? """
            truncate -s \(bootMiB)M boot.fs
            mkfs.ext4 -q -F -L BOOT -U \(Self.bootUUID) -d bootseed boot.fs
            dd if=boot.fs of=disk.raw bs=1M seek=\(2 + espMiB) conv=notrunc status=none
            rm boot.fs
            """ : "")
            dd if=root.fs of=disk.raw bs=1M seek=\(2 + espMiB + bootMiB) conv=notrunc status=none
            rm esp.fs root.fs
            """
    }

    private func qcow2(in directory: String) throws -> String {
        let raw = "\(directory)/disk.raw"
        let qcow2 = "\(directory)/\(rawValue).qcow2"
        try Command.check(try ExecutableLookup.resolve("qemu-img"), ["convert", "-O", "qcow2", raw, qcow2])
        unlink(raw)
        return qcow2
    }

    /// `image` as a raw file next to it, for the host's tools.
    static func raw(of image: String) throws -> String {
        let raw = image + ".check.raw"
        try Command.check(try ExecutableLookup.resolve("qemu-img"), ["convert", "-O", "raw", image, raw])
        return raw
    }

    /// Whether `path` exists in partition `number` of the raw disk `raw` (subvolume `subvolume` for btrfs),
    /// mounted read-only by the host's own tools.
    static func exists(_ path: String, partition number: Int, subvolume: String? = nil, of raw: String,
                       work: String) throws -> Bool {
        let (first, last) = try sectors(partition: number, of: raw)
        let options = "ro" + (subvolume.map { ",subvol=\($0)" } ?? "")
        let script = """
            dev=$(losetup --find --show --read-only --offset \(first * 512) --sizelimit \((last - first + 1) * 512) "$1") || exit 3
            mkdir -p "$2"
            if mount -o \(options) "$dev" "$2"; then
                if test -e "$2/$3"; then found=0; else found=1; fi
                umount "$2"
            else found=4; fi
            losetup -d "$dev"
            exit $found
            """
        let result = try Command.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script, "_",
                                                          raw, "\(work)/check-mnt", path])
        switch result.status {
        case .exited(0): return true
        case .exited(1): return false
        default: throw BuildError("could not mount partition \(number) of \(raw) to check \(path): \(result.status) \(result.stderr)")
        }
    }

    /// The contents of `path` in the vfat filesystem of partition `number` (nil if absent), read with mtools:
    /// the host's own tool where the kernel has no vfat.
    static func espFile(_ path: String, partition number: Int, of raw: String) throws -> String? {
        let (first, _) = try sectors(partition: number, of: raw)
        let result = try Command.run("/bin/sh", ["-c", #"MTOOLS_SKIP_CHECK=1 mtype -i "$1@@$2" "::$3""#, "_", raw,
                                                 "\(first * 512)", path])
        if result.status.isSuccess { return result.stdout }
        guard result.stderr.contains("not found") else {
            throw BuildError("mtype \(path) on partition \(number) of \(raw): \(result.status) \(result.stderr)")
        }
        return nil
    }

    /// First and last sector of partition `number`.
    static func sectors(partition number: Int, of raw: String) throws -> (first: UInt64, last: UInt64) {
        // sgdisk -i N: "First sector: 22528 (at 11.0 MiB)" / "Last sector: …".
        let info = try Command.check(try ExecutableLookup.resolve("sgdisk"), ["-i", "\(number)", raw])
        func sector(_ name: String) throws -> UInt64 {
            guard let line = info.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
                  let value = line.split(separator: " ").dropFirst(2).first.flatMap({ UInt64($0) }) else {
                throw BuildError("sgdisk -i \(number) has no \(name): \(info)")
            }
            return value
        }
        return (try sector("First sector:"), try sector("Last sector:"))
    }
}
