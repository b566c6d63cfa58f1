import Glibc
import HostSystem

/// `attach: loop`: loop devices directly on a raw image file. No daemon, no copy.
public struct LoopBackend: AttachBackend {
    public var mode: AttachMode { .loop }

    public init() {}

    public func unavailableReason(for request: AttachRequest) -> String? {
        if request.isQCOW2 {
            return "loop devices read raw images only and \(request.image) is qcow2; use attach fuse (or auto)"
        }
        if access("/dev/loop-control", R_OK | W_OK) != 0 { return "/dev/loop-control is not usable (needs root)" }
        return nil
    }

    public func attach(_ request: AttachRequest, ledger: RunLedger?) throws -> AttachedImage {
        if let reason = unavailableReason(for: request) { throw AttachError("cannot attach with loop: \(reason)") }
        return try LoopBackedImage(mode: .loop, backingFile: try Self.canonicalPath(request.image),
                                   readOnly: request.readOnly, export: nil, ledger: ledger)
    }

    /// The path the kernel reports in /sys/block/loopN/loop/backing_file, so `cleanup` can match it.
    static func canonicalPath(_ path: String) throws -> String {
        guard let resolved = realpath(path, nil) else { throw SystemError("realpath", path: path, errno: errno) }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
