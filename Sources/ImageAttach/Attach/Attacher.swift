import HostSystem
import ImageLayout
/// Attaches images with the backend a request asks for, or for `auto` the best this host offers.
public enum Attacher {
    public static func attach(_ request: AttachRequest, ledger: RunLedger?) throws -> AttachedImage {
        // Attaching a qcow2 file as raw would hand its metadata to the filesystem, and write over it.
        let probed = try ImageProbe.probe(path: request.image).format
        guard probed == request.format else {
            throw AttachError("\(request.image) is \(probed.rawValue) by its header, not \(request.format.rawValue) "
                + "as the attach request says")
        }
        let choice = try choose(for: request)
        if request.mode == .auto { Log.info("attach: \(choice.reason)") }
        return try choice.backend.attach(request, ledger: ledger)
    }

    /// The backend `request` would use here, with the sentence explaining the choice.
    public static func choose(for request: AttachRequest,
                              nbd: NBDAvailability = .probe()) throws -> (backend: AttachBackend, reason: String) {
        if let path = request.devicePath, request.mode == .fuse || request.mode == .loop {
            throw AttachError("device_path \(path) names an nbd device, but attach \(request.mode.rawValue) uses free "
                + "loop devices; drop device_path or use attach nbd")
        }
        guard request.mode == .auto else {
            guard let backend = AttachBackendRegistry.backend(for: request.mode) else {
                throw AttachError(notBuiltIn(request.mode, nbd: nbd))
            }
            if let reason = backend.unavailableReason(for: request) {
                throw AttachError("cannot attach \(request.image) with \(request.mode.rawValue): \(reason)")
            }
            return (backend, "using \(request.mode.rawValue) as requested")
        }

        var declined: [String] = []
        if let absence = nbd.absenceReason {
            declined.append(absence)
        } else {
            for mode in [AttachMode.nbd, .nbdIoctl] {
                guard let backend = AttachBackendRegistry.backend(for: mode) else { continue }
                if let reason = backend.unavailableReason(for: request) {
                    declined.append("\(mode.rawValue): \(reason)")
                } else {
                    return (backend, "kernel nbd driver available; using \(mode.rawValue)")
                }
            }
            if declined.isEmpty { declined.append("kernel nbd driver loaded, but this build has no nbd backend") }
        }

        let fallback: [AttachMode] = request.isQCOW2 ? [.fuse] : [.loop, .fuse]
        for mode in fallback {
            guard let backend = AttachBackendRegistry.backend(for: mode) else { continue }
            if let reason = backend.unavailableReason(for: request) {
                declined.append("\(mode.rawValue): \(reason)")
                continue
            }
            let how = mode == .loop
                ? "using a loop device directly on the raw image"
                : "using qemu-storage-daemon FUSE export + loop device"
            let ignored = request.devicePath.map { "; device_path \($0) is not used" } ?? ""
            return (backend, "\(declined.joined(separator: "; ")); \(how)\(ignored)")
        }
        throw AttachError("no way to attach \(request.image) on this host: \(declined.joined(separator: "; "))"
            + doctorHint)
    }

    /// Appended to "no way to attach" errors; `doctor` itself leaves it out.
    public static let doctorHint = ". Run `qemu-chroot doctor` for details"

    private static func notBuiltIn(_ mode: AttachMode, nbd: NBDAvailability) -> String {
        if let absence = nbd.absenceReason, mode == .nbd || mode == .nbdIoctl {
            return "cannot attach with \(mode.rawValue): \(absence); attach fuse works without it"
        }
        return "attach mode \(mode.rawValue) is not available in this build; use fuse or loop"
    }
}
