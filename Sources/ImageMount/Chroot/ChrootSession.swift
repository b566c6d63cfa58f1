import Glibc
import HostSystem
import ImageLayout
import Synchronization

/// A mounted image ready for provisioning: the root filesystem at `mountPath`, the chroot mounts on top,
/// commands run chrooted into it, files copied in and out resolved inside it. `unmountAll()` undoes the
/// mounts in reverse (trimming and flushing the root last) and is safe to call again.
///
/// Must be used from the thread (or single-threaded process) that entered the private mount namespace.
public final class ChrootSession: Sendable {
    public let device: String
    public let fstype: String
    public let mountPath: String
    public let mounts = MountStack()
    public let image: RootedPath
    private let createdMountPath: Bool
    /// A proc is mounted at the image's /proc: each command gets its own PID namespace's proc there. Set
    /// when that mount is made, which may be after init (`mountChrootMounts`): without it, a command run
    /// through `MountedImage` saw the host's processes in /proc.
    private let hasProc = Mutex(false)
    /// How commands are kept from the host; strict also mounts the image's filesystems `nodev`.
    public let isolation: ChrootIsolation
    /// Set by `planEmulation`: how commands run the image's programs.
    private let emulationPlan = Mutex<EmulationPlan?>(nil)

    /// Mounts `device` (a block device holding a `fstype` filesystem, e.g. "ext4") at `mountPath` with
    /// `mountOptions`, then `chrootMounts` inside it. On failure, whatever was mounted is unmounted again.
    public init(
        device: String, fstype: String, mountPath: String, mountOptions: [String] = [], readOnly: Bool = false,
        chrootMounts: [ChrootMount] = ChrootMount.defaults, isolation: ChrootIsolation = .standard
    ) throws {
        guard MountNamespace.isPrivate else { throw MountNamespaceError.notPrivate }
        self.isolation = isolation
        self.device = device
        self.fstype = fstype
        self.mountPath = mountPath
        self.image = RootedPath(root: mountPath)
        createdMountPath = try FileTree.makeDirectories(mountPath)
        do {
            var options = MountOptions(mountOptions)
            if readOnly { options.add("ro") }
            if isolation.strict { options.add("nodev") }
            mounts.push(try Mount.mount(source: device, fstype: fstype, onHostPath: mountPath, options: options,
                                        isImageRoot: true))
            for entry in chrootMounts { try mountInside(entry) }
        } catch {
            try? unmountAll()
            throw error
        }
    }

    /// Mounts another filesystem of the image (from its fstab) at `target` inside the root, the directory
    /// resolved inside the image and created when missing. Undone by `unmountAll()` before the root.
    public func mountImageFilesystem(device: String, fstype: String, at target: String, options: [String],
                                     readOnly: Bool = false) throws {
        var parsed = MountOptions(options)
        if readOnly { parsed.add("ro") }
        // A device node the image ships must not open a host device.
        if isolation.strict { parsed.add("nodev") }
        mounts.push(try Mount.mount(source: device, fstype: fstype, inside: image, at: target, options: parsed))
    }

    /// The chroot mounts, for a caller that mounted the image's own filesystems first (init with none).
    public func mountChrootMounts(_ entries: [ChrootMount]) throws {
        for entry in entries { try mountInside(entry) }
    }

    private func mountInside(_ entry: ChrootMount) throws {
        if entry.isOptional && !HostFilesystems.supports(entry.fstype) {
            Log.debug("skipping \(entry.target): this kernel has no \(entry.fstype)")
            return
        }
        do {
            mounts.push(try Mount.mount(source: entry.source, fstype: entry.fstype, inside: image, at: entry.target,
                                        options: entry.mountOptions))
            if entry == MinimalDev.mount { try MinimalDev.populate(image) }
            if entry.fstype == "proc" && entry.target == "/proc" { hasProc.withLock { $0 = true } }
        } catch let error as SystemError where entry.isOptional {
            Log.debug("skipping \(entry.target): \(error)")
        }
    }

    /// Reads the image's architecture (call it once every filesystem of the image is mounted: /bin/sh may
    /// be on /usr) and decides how commands run its programs from now on; see `EmulationPlan.plan`. A
    /// `hostEmulated` plan needs its handler registered in the host's binfmt_misc (`HostBinfmtLease`) before
    /// the first command.
    @discardableResult
    public func planEmulation(qemuBinary: String? = nil, hostBinfmt: Bool = true) throws -> EmulationPlan {
        let plan = try EmulationPlan.plan(for: ImageArchitecture.detect(in: image), qemuBinary: qemuBinary, hostBinfmt: hostBinfmt)
        emulationPlan.withLock { $0 = plan }
        return plan
    }

    /// What `planEmulation` decided; nil before it ran (commands then run without emulation).
    public var emulation: EmulationPlan? { emulationPlan.withLock { $0 } }

    /// Runs `/bin/sh -c command` in the chroot, in PID and mount namespaces of its own, isolated as
    /// `isolation` says; see `ChrootCommand`.
    public func run(
        _ command: String, environment: [String: String]? = nil, wrapper: CommandWrapper = .identity,
        stdin: Int32 = -1, stdout: ChrootOutput, stderr: ChrootOutput, cancellation: Cancellation? = nil,
        onStart: ((ChildProcess) -> Void)? = nil
    ) throws -> ExitStatus {
        try ChrootCommand(root: mountPath, mountsProc: hasProc.withLock { $0 }, isolation: isolation,
                          emulation: emulation?.privateHandler)
            .run(command, environment: environment, wrapper: wrapper, stdin: stdin,
                 stdout: stdout, stderr: stderr, cancellation: cancellation, onStart: onStart)
    }

    public var files: FileTransfer { FileTransfer(image: image) }

    public func copyIn(host: String, image path: String) throws { try files.copyIn(host: host, image: path) }
    public func copyOut(image path: String, host: String) throws { try files.copyOut(image: path, host: host) }

    public func copyDirectoryIn(host: String, image path: String, excludes: [String] = []) throws {
        try files.copyDirectoryIn(host: host, image: path, excludes: excludes)
    }

    public func copyDirectoryOut(image path: String, host: String, excludes: [String] = []) throws {
        try files.copyDirectoryOut(image: path, host: host, excludes: excludes)
    }

    /// `copy_files`: host files to the same paths in the image until `undo()` on the result.
    public func copyFiles(_ paths: [String] = CopiedFiles.defaultPaths) throws -> CopiedFiles {
        try CopiedFiles.copy(paths, into: image)
    }

    /// Unmounts everything below the mount path, deepest first: first what this run did not mount (with a
    /// warning), then its own mounts in reverse order; the mount path is removed if this session created it.
    public func unmountAll() throws {
        var errors = Teardown.Errors()
        let ours = mounts.live
        if let root = ours.first {
            errors.attempt("unmount what this run did not mount below \(root.target)") {
                try ForeignMounts.release(ForeignMounts.find(below: root.target, ours: ours), below: root.target)
            }
        }
        errors.attempt("unmount \(mountPath)") { try mounts.unmountAll() }
        if createdMountPath && mounts.live.isEmpty && errors.first == nil { rmdir(mountPath) }
        try errors.rethrow()
    }
}
