import CNBD
import Glibc
import HostSystem

/// What sysfs says about block devices: the only source of device numbers and nbd state we trust
/// (no udev here, and /dev may lack nodes).
public enum BlockSysfs {
    /// Reads a small sysfs attribute, without its trailing newline; nil if it does not exist.
    public static func attribute(_ path: String) -> String? {
        guard let fd = try? FileDescriptor.open(path, O_RDONLY), let bytes = try? fd.read(count: 4096) else { return nil }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" { text.removeLast() }
        return text
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// "MAJ:MIN" of /sys/class/block/NAME/dev.
    public static func deviceNumber(of name: String) throws -> dev_t {
        let path = "/sys/class/block/\(name)/dev"
        guard let text = attribute(path) else { throw SystemError("read", path: path, errno: ENOENT) }
        let parts = text.split(separator: ":").compactMap { UInt32($0) }
        guard parts.count == 2 else { throw SystemError("parse", path: path, errno: EINVAL) }
        return cnbd_makedev(parts[0], parts[1])
    }

    /// What holds block device `name` open for itself (/sys/class/block/NAME/holders), device-mapper devices by
    /// their dm name: "dm-3 (vg0-root)".
    public static func holders(of name: String) -> [String] {
        ((try? FileTree.entries("/sys/class/block/\(name)/holders")) ?? []).sorted().map { holder in
            attribute("/sys/class/block/\(holder)/dm/name").map { "\(holder) (\($0))" } ?? holder
        }
    }

    /// The kernel name of a partition of `disk` (nbd0 → nbd0p2, sda → sda2).
    public static func partitionName(disk: String, number: Int) -> String {
        disk.last?.isNumber == true ? "\(disk)p\(number)" : "\(disk)\(number)"
    }

    /// The nbd driver is loaded (its device nodes and ioctls exist).
    public static var nbdDriverLoaded: Bool { exists("/sys/module/nbd") }

    /// An nbd device is attached while /sys/block/nbdN/pid exists (what nbd-client -c checks).
    public static func nbdAttached(_ index: Int) -> Bool { exists("/sys/block/nbd\(index)/pid") }

    /// The netlink backend identifier of an attached nbd device (kernel ≥ 5.14), if any.
    public static func nbdBackend(_ index: Int) -> String? { attribute("/sys/block/nbd\(index)/backend") }

    /// Indexes of the nbd devices that exist, in order.
    public static func nbdIndexes() -> [Int] {
        guard let dir = opendir("/sys/block") else { return [] }
        defer { closedir(dir) }
        var indexes: [Int] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.hasPrefix("nbd"), let index = Int(name.dropFirst(3)) { indexes.append(index) }
        }
        return indexes.sorted()
    }
}
