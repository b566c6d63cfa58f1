import Glibc
import NBDCore

/// What `inspect` adds when it can attach the image: the root the build's rule chooses by looking inside
/// (and its sentence) and the filesystem tree a build would mount below it, from the same library code the
/// build runs (`MountedImage.planMounts`, `preview`). The image is attached read-only and every mount is
/// read-only without journal replay, on private directories removed right after: the file is never written.
struct InspectMounts {
    let rootChoice: RootChoice
    let root: MountPlan.ImageFilesystem
    /// How the image was attached (nbd, fuse, loop).
    let attachMode: AttachMode
    let tree: FilesystemTreePlan
    /// The root's architecture from its /bin/sh (or /sbin/init) ELF header, as build and shell decide it.
    let architecture: ImageArchitecture
    /// What attaching said (a partition without a device…), in the report's voice.
    let messages: [MountMessage]

    /// Why the plan cannot be shown on this run without trying, or nil.
    static func blocker(blocksOnly: Bool) -> String? {
        if blocksOnly { return "--blocks-only" }
        if geteuid() != 0 { return "needs root to attach and mount the image read-only" }
        return nil
    }

    /// Attaches `image` read-only, plans as a build does (with `tree` for skip_mounts, image_mounts,
    /// fstab_mounts), and releases everything in reverse order, also when a step fails or `cancellation` fires.
    /// Call it in the private mount namespace.
    static func read(image: String, format: ImageFormat, tree: FilesystemTreeOptions, cancellation: Cancellation) throws -> InspectMounts {
        func checkCancelled() throws {
            if cancellation.isCancelled { throw CancelledError(cancellation.cancelReason) }
        }
        try checkCancelled()
        let ledger = RunLedger.startOrWarn()
        defer { ledger?.finish() }
        let mounted = try MountedImage(attaching: AttachRequest(image: image, format: format, readOnly: true), ledger: ledger)
        var result: Result<InspectMounts, Error>
        do {
            try checkCancelled()
            let plan = try mounted.planMounts(mountPartition: nil, tree: tree)
            try checkCancelled()
            let preview = try mounted.preview()
            result = .success(InspectMounts(rootChoice: plan.rootChoice, root: plan.root, attachMode: mounted.attached.mode,
                                            tree: preview.tree, architecture: preview.architecture, messages: mounted.mountMessages))
        } catch {
            result = .failure(error)
        }
        do { try mounted.release() } catch {
            if case .success = result { result = .failure(error) } else { Log.error("\(error)") }
        }
        return try result.get()
    }
}
