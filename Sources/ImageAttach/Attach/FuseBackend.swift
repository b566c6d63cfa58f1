import Glibc
import HostSystem
import ImageLayout

/// `attach: fuse`: qemu-storage-daemon exports the image (qcow2 or raw) as a raw file over FUSE; loop
/// devices map its volumes. Works on hosts without the nbd driver.
public struct FuseBackend: AttachBackend {
    public var mode: AttachMode { .fuse }
    /// Where export directories go when the run keeps no ledger.
    public static let exportRoot = "/run/qemu-chroot/exports"

    public init() {}

    public func unavailableReason(for request: AttachRequest) -> String? {
        if access("/dev/fuse", R_OK | W_OK) != 0 { return "/dev/fuse is not usable (no FUSE in this kernel, or not root)" }
        if !ExecutableLookup.exists("qemu-storage-daemon") {
            return "qemu-storage-daemon is not installed (Debian: apt-get install qemu-system-common)"
        }
        if access("/dev/loop-control", R_OK | W_OK) != 0 { return "/dev/loop-control is not usable (needs root)" }
        return nil
    }

    public func attach(_ request: AttachRequest, ledger: RunLedger?) throws -> AttachedImage {
        if let reason = unavailableReason(for: request) { throw AttachError("cannot attach with fuse: \(reason)") }
        let directory: String
        if let ledger {
            directory = "\(ledger.directory)/\(QemuStorageDaemonExport.directoryPrefix)\(RunLedger.newRunID())"
        } else {
            try RunLedger.makeDirectories(Self.exportRoot)
            directory = "\(Self.exportRoot)/\(QemuStorageDaemonExport.directoryPrefix)\(RunLedger.newRunID())"
        }
        let export = try QemuStorageDaemonExport(
            image: request.image, driver: request.format.rawValue, readOnly: request.readOnly, flushes: !request.scratch,
            directory: directory, expectedSize: try ImageProbe.probe(path: request.image).virtualSize, ledger: ledger)
        return try LoopBackedImage(mode: .fuse, backingFile: export.path, readOnly: request.readOnly,
                                   export: export, ledger: ledger)
    }
}
