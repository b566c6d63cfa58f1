import Foundation
import NBDCore
import TestSupport

/// A PV image made by the host's lvm2 tools on a loop device this fixture attached: lvm2 only sees that device
/// (a filter, no devices file, no udev, no backups), never activates anything (`--driverloaded n`, as this
/// kernel has no device-mapper), and its VG has a run-unique name so it can never clash with a host VG.
final class LVMToolsFixture {
    static let requirements = Host.missing(programs: ["pvcreate", "vgcreate", "lvcreate", "lvextend", "lvs", "vgs", "pvs", "losetup", "mkfs.ext4", "sgdisk"],
                                           root: true, loop: true)

    let directory: TemporaryDirectory
    let pvImage: String
    let groupName: String
    private(set) var device: String?

    init(sizeMiB: Int = 48) throws {
        directory = try TemporaryDirectory("qemu-chroot-lvm-test")
        pvImage = directory.file("pv.img")
        groupName = "qcvg\(getpid())x\(UInt32.random(in: 0...UInt32.max))"
        try Command.check("/usr/bin/truncate", ["-s", "\(sizeMiB)M", pvImage])
        device = try Command.check(try ExecutableLookup.resolve("losetup"), ["--find", "--show", pvImage]).trimmingWhitespace()
    }

    var config: String {
        let device = self.device ?? "/nonexistent"
        return "devices { filter=[\"a|^\(device)$|\",\"r|.*|\"] use_devicesfile=0 obtain_device_list_from_udev=0 } "
            + "activation { udev_sync=0 udev_rules=0 monitoring=0 } backup { backup=0 archive=0 }"
    }

    @discardableResult
    func lvm(_ command: String, _ arguments: [String]) throws -> String {
        let device = self.device ?? "/nonexistent"
        let args = arguments.map { $0 == "$DEVICE" ? device : $0 }
        return try Command.check(try ExecutableLookup.resolve(command), ["--config", config] + args,
                                 environment: ["LVM_SUPPRESS_FD_WARNINGS": "1", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])
    }

    /// `lvs`/`vgs`/`pvs --reportformat json` rows.
    func report(_ command: String, _ kind: String, _ fields: String) throws -> [[String: String]] {
        // pvs takes PV names, vgs and lvs the VG's.
        let target = command == "pvs" ? "$DEVICE" : groupName
        let text = try lvm(command, ["--reportformat", "json", "--units", "b", "--nosuffix", "-o", fields, target])
        let root = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        let report = (root?["report"] as? [[String: Any]])?.first
        return (report?[kind] as? [[String: Any]] ?? []).map { row in row.compactMapValues { $0 as? String } }
    }

    /// Nothing was activated and no host state was written, so detaching the loop device is the whole cleanup.
    func detach() {
        guard let device else { return }
        _ = try? Command.run(try ExecutableLookup.resolve("losetup"), ["-d", device])
        self.device = nil
    }

    deinit { detach() }
}
