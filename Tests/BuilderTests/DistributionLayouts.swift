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

    static let requirements = Host.missing(programs: ["busybox", "sgdisk", "mkfs.xfs", "mkfs.ext4", "mkfs.btrfs",
                                                      "btrfs", "losetup", "unshare", "qemu-img", "qemu-storage-daemon"],
                                           root: true, loop: true, fuse: true)

    static let rootUUID = "5b9d2a31-7c4e-4f0a-9a43-2f1c3e8d1a01"
    static let bootUUID = "5b9d2a31-7c4e-4f0a-9a43-2f1c3e8d1a02"

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
        }
    }

    /// Builds the disk in `directory` and returns the qcow2 path.
    func make(in directory: String) throws -> String {
        let seed = "\(directory)/seed"
        for dir in ["bin", "sbin", "etc", "boot", "home", "root", "proc", "sys", "dev", "tmp", "usr/lib"] {
            try Command.check("/bin/mkdir", ["-p", "\(seed)/\(dir)"])
        }
        try Command.check("/bin/cp", [try ExecutableLookup.resolve("busybox"), "\(seed)/bin/busybox"])
        for applet in ["sh", "cat", "echo", "ls", "mkdir", "test"] { symlink("busybox", "\(seed)/bin/\(applet)") }
        try writeFile("\(seed)/etc/fstab", fstab)
        try writeFile("\(seed)/usr/lib/os-release", "ID=\(rawValue)\n")
        let bootSeed = "\(directory)/bootseed"
        try Command.check("/bin/mkdir", ["-p", bootSeed])
        try writeFile("\(bootSeed)/vmlinuz-test", "kernel\n")
        let raw = "\(directory)/disk.raw"
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
        // sgdisk -i N: "First sector: 22528 (at 11.0 MiB)" / "Last sector: …".
        let info = try Command.check(try ExecutableLookup.resolve("sgdisk"), ["-i", "\(number)", raw])
        func sector(_ name: String) throws -> UInt64 {
            guard let line = info.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
                  let value = line.split(separator: " ").dropFirst(2).first.flatMap({ UInt64($0) }) else {
                throw BuildError("sgdisk -i \(number) has no \(name): \(info)")
            }
            return value
        }
        let first = try sector("First sector:"), last = try sector("Last sector:")
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
}
