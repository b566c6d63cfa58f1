import Glibc
import HostSystem
import ImageLayout
import ImageMount

/// An image taken from file to chroot and back: attached, its layout read, its filesystems chosen and
/// mounted with the chroot mounts, and released again through one path. `qemu-chroot shell` and the
/// builder's steps both go through it; an embedder does the same:
///
/// ```swift
/// try MountNamespace.enterPrivate()
/// let ledger = try RunLedger()
/// defer { ledger.finish() }
/// let image = try MountedImage(attaching: AttachRequest(image: path, format: .qcow2), ledger: ledger)
/// do {
///     try image.readLayout().warnings.forEach { print("warning: \($0)") }
///     try image.planMounts(mountPartition: nil)            // the root rule
///     let session = try image.mount(at: "/run/my-tool/mnt", ownsMountPath: true)
///     _ = try session.run("apt-get update", stdout: .discard, stderr: .discard)
/// } catch {
///     try? image.release()
///     throw error
/// }
/// try image.release()
/// ```
///
/// The phases run in that order; a caller may act between them (the builder rewrites the partition table
/// for `disk_size` after `readLayout`, runs host commands before and after `mount`, and grows the root
/// filesystem after it). Whatever happened, `release()` undoes all of it.
///
/// Owned by one thread: the one in the private mount namespace the mounts are made in.
public final class MountedImage {
    public let attached: AttachedImage
    public let ledger: RunLedger?
    /// The image was attached read-only, so its filesystems are mounted read-only too.
    public let readOnly: Bool
    /// Set by `readLayout` (and again by `rewritePartitionTable`).
    public private(set) var layout: DiskLayout?
    /// Set by `planMounts`.
    public private(set) var plan: MountPlan?
    /// The image's partitions and logical volumes, set by `planMounts`.
    public private(set) var volumes: ImageVolumes?
    /// The block device of the whole disk (/dev/nbdN, or a loop device over the whole export or raw file),
    /// with every partition of the layout mapped on it as its partition N (nbd0p1, loop3p15): what the
    /// seed plugin's `{{.Device}}` is. Set by `planMounts`.
    public private(set) var wholeDiskDevice: String?
    /// What mapping the partitions (`planMounts`) and mounting the filesystem tree (`mount`) said: devices
    /// not made, entries left out, `nofail` failures. The caller shows them in its own voice.
    public private(set) var mountMessages: [MountMessage] = []
    /// Set when `mount` starts.
    public private(set) var mountPath: String?
    /// Set once `mount` succeeded: where commands run and files are copied.
    public private(set) var session: ChrootSession?
    /// The image's logical volumes as block devices, made by `planMounts` when it finds LVM.
    private var logicalVolumes: LogicalVolumeDevices?
    /// The ledger entry for a mount path this run owns, until the directory is gone.
    private var mountPathEntry: Int?
    /// The emulator's handler in the host's binfmt_misc (a `hostEmulated` plan), until `unmount`.
    private var hostBinfmtLease: HostBinfmtLease?
    private var detached = false

    /// Attaches the image `request` names (see `Attacher.attach`); the caller owns the result and must
    /// `release()` it.
    public init(attaching request: AttachRequest, ledger: RunLedger?) throws {
        attached = try Attacher.attach(request, ledger: ledger)
        self.ledger = ledger
        readOnly = request.readOnly
    }

    /// Reads the partition table and filesystems through the attachment. Its warnings are the caller's to
    /// show, in the caller's voice.
    @discardableResult
    public func readLayout() throws -> DiskLayout {
        let layout = try DiskLayout.read(from: attached.disk)
        self.layout = layout
        let physicalVolumes = LVMScan.scan(layout, disk: attached.disk).physicalVolumes
        if !physicalVolumes.isEmpty { try logicalVolumeDevices().claimKernelPartitions(physicalVolumes.map(\.partitionNumber)) }
        return layout
    }

    /// `disk_size`: the writes that make the partition table fill the attached (already resized) disk;
    /// empty when it does already.
    public func partitionTableGrowth() throws -> [DiskWrite] {
        let layout = try self.layout ?? readLayout()
        return try layout.growLastPartition(newDiskSize: attached.disk.size)
    }

    /// Writes `writes` through the whole-disk device, flushes them to the image, and reads the layout again.
    public func rewritePartitionTable(_ writes: [DiskWrite]) throws {
        guard !writes.isEmpty else { return }
        let wholeDisk = try attached.blockDevice(number: 0, offset: 0, size: attached.disk.size)
        let disk = try FileDescriptor.open(wholeDisk, O_RDWR)
        defer { try? disk.close() }
        for write in writes {
            try write.bytes.withUnsafeBytes { try disk.pwriteAll($0, at: write.offset) }
        }
        try syscall("fsync", path: wholeDisk) { fsync(disk.rawValue) }
        try attached.flush()
        // Read back through the device written to: `attached.disk` did not see these writes (FUSE backend:
        // it returned zeros at LBA 1 right after them).
        layout = try DiskLayout.read(from: try FileBlockReader(path: wholeDisk))
    }

    /// Chooses what to mount: the root volume (`mountPartition`, 0 for the whole disk; nil for the root
    /// rule, which may mount candidates read-only to look inside: call it in the private mount namespace)
    /// with `rootOptions`, how the rest of the tree is found (`tree`), then `chrootMounts` (nil: the
    /// defaults of `isolation`); makes the root's block device. The plan's `rootChoice.explanation` says
    /// what was chosen and why.
    @discardableResult
    public func planMounts(mountPartition: Int?, rootOptions: [String] = [], tree: FilesystemTreeOptions = .init(),
                           chrootMounts: [ChrootMount]? = nil, isolation: ChrootIsolation = .standard) throws -> MountPlan {
        let layout = try self.layout ?? readLayout()
        try mapPartitions(layout)
        let lvm = logicalVolumeDevices()
        let volumes = try ImageVolumes.read(layout, disk: attached.disk, mapsSegments: lvm.deviceMapperMissing == nil)
        self.volumes = volumes
        let candidates = try rootCandidates(layout, volumes: volumes, mountPartition: mountPartition, tree: tree)
        let choice = try RootDiscovery.choose(candidates) { try blockDevice(for: $0) }
        let volume = choice.candidate.volume
        let device = try blockDevice(for: volume)
        let plan = MountPlan(root: .init(volume: volume, device: device, target: "/",
                                         options: choice.candidate.mountOptions + rootOptions),
                             rootChoice: choice, tree: tree, chrootMounts: chrootMounts ?? isolation.defaultMounts,
                             isolation: isolation)
        self.plan = plan
        return plan
    }

    /// Makes the whole-disk device and every partition on it, so host commands reach any of them as a
    /// boot would name them. A partition that cannot be made is said and left out: the ones mounted are
    /// asked for again, and stop the run then.
    private func mapPartitions(_ layout: DiskLayout) throws {
        let whole = try attached.blockDevice(number: 0, offset: 0, size: attached.disk.size)
        wholeDiskDevice = whole
        // No device of ours starts with an LVM label, so the host's LVM (udev's pvscan) never sees the
        // image's volume groups (LogicalVolumeDevices); an MBR extended partition only holds the logical ones.
        let physicalVolumes = Set(LVMScan.scan(layout, disk: attached.disk).physicalVolumes.map(\.partitionNumber))
        for partition in layout.partitions where !partition.isExtendedContainer {
            guard !physicalVolumes.contains(partition.number) else {
                Log.debug("partition \(partition.number) holds an LVM physical volume: no device for it under \(whole)")
                continue
            }
            guard partition.number <= Volume.logicalVolumeNumbers else {
                mountMessages.append(MountMessage(level: .warning, text: "partition \(partition.number) has no device "
                    + "under \(whole): numbers above \(Volume.logicalVolumeNumbers) are kept for logical volumes"))
                continue
            }
            do {
                _ = try attached.blockDevice(number: partition.number, offset: partition.start, size: partition.size)
            } catch {
                mountMessages.append(MountMessage(level: .warning, text: "partition \(partition.number) has no device "
                    + "under \(whole): \(error)"))
            }
        }
    }

    /// `image_mounts` naming "/" settles the root; otherwise the layout's root rule.
    private func rootCandidates(_ layout: DiskLayout, volumes: ImageVolumes, mountPartition: Int?,
                                tree: FilesystemTreeOptions) throws -> RootCandidates {
        guard mountPartition == nil, let request = tree.imageMounts?.first(where: { $0.mountPoint == "/" }) else {
            return try layout.rootCandidates(mountPartition: mountPartition, volumes: volumes)
        }
        let named = try volumes.resolve(request.fstabSpec).mapError { AttachError("image_mounts: \($0)") }.get()
        guard let volume = volumes.mountable(named) else { throw AttachError("image_mounts: \(named) cannot be mounted as root") }
        return RootCandidates(settled: (RootCandidate(volume: volume), "image_mounts names \(request.spec) for /"), candidates: [])
    }

    private func logicalVolumeDevices() -> LogicalVolumeDevices {
        if let logicalVolumes { return logicalVolumes }
        let made = LogicalVolumeDevices(attached: attached, ledger: ledger, readOnly: readOnly)
        logicalVolumes = made
        return made
    }

    /// A block device holding exactly `volume`: the attachment's own for a partition or the whole disk, one of
    /// `logicalVolumes` for an LVM logical volume.
    func blockDevice(for volume: Volume) throws -> String {
        guard case .logicalVolume = volume.source, let logicalVolumes, let volumes else {
            return try attached.blockDevice(for: volume)
        }
        return try logicalVolumes.device(for: volume, pieces: volumes.pieces(of: volume.source),
                                         physicalVolumes: volumes.lvm.physicalVolumes)
    }

    /// The planned root: its volume and block device (nil before `planMounts`).
    public var root: MountPlan.ImageFilesystem? { plan?.root }

    /// Mounts the plan at `mountPath` (created when missing). With `ownsMountPath` the directory is this
    /// run's alone and is recorded in the ledger, so that `qemu-chroot cleanup` removes it after a kill -9;
    /// a path the user chose is not, since cleanup removes what it records. Then reads the image's
    /// architecture and plans how its programs run (`ChrootSession.planEmulation`, with `qemuBinary` for
    /// the emulator when set); the plan is the session's `emulation`. Where the kernel gives commands no
    /// binfmt_misc of their own, the emulator is registered in the host's for the run (`HostBinfmtLease`)
    /// unless `hostBinfmt` is false.
    @discardableResult
    public func mount(at mountPath: String, ownsMountPath: Bool = false, qemuBinary: String? = nil,
                      hostBinfmt: Bool = true) throws -> ChrootSession {
        if let session { return session }
        guard let plan else { throw AttachError("cannot mount \(mountPath): no mount plan yet (call planMounts first)") }
        self.mountPath = mountPath
        if ownsMountPath, mountPathEntry == nil { mountPathEntry = try? ledger?.intend(.directory(path: mountPath)) }
        do {
            let root = plan.root
            let session = try ChrootSession(device: root.device, fstype: root.fstype, mountPath: mountPath,
                                            mountOptions: root.options, readOnly: readOnly, chrootMounts: [],
                                            isolation: plan.isolation)
            do {
                if let volumes {
                    let tree = FilesystemTreeMount(session: session, volumes: volumes, root: plan.rootChoice.candidate,
                                                   options: plan.tree, readOnly: readOnly,
                                                   device: { [unowned self] in try blockDevice(for: $0) })
                    let (mounted, messages) = try tree.mount()
                    self.plan?.filesystems += mounted
                    mountMessages += messages
                }
                try session.mountChrootMounts(plan.chrootMounts)
                let emulation = try session.planEmulation(qemuBinary: qemuBinary, hostBinfmt: hostBinfmt)
                if let handler = emulation.hostHandler {
                    // Concurrent runs share the handler through their records; without one it could be removed under
                    // another run, or never.
                    guard let ledger else {
                        throw AttachError("registering \(handler.name) in the host's binfmt_misc needs a run record "
                            + "(under \(RunLedger.defaultRoot)) to count the runs using it")
                    }
                    hostBinfmtLease = try HostBinfmtLease.acquire(handler, ledger: ledger)
                }
            } catch {
                try? session.unmountAll()
                throw error
            }
            self.session = session
            return session
        } catch {
            forgetRemovedMountPath()
            throw error
        }
    }

    /// `disk_size`: grows the mounted root filesystem online to fill its (grown) partition; says what it did.
    public func growRootFilesystem() throws -> String {
        guard let root, let mountPath, session != nil else {
            throw AttachError("cannot grow the root filesystem: it is not mounted")
        }
        return try FilesystemGrowth.grow(mountPath: mountPath, fstype: root.fstype, to: root.volume.size)
    }

    /// Unmounts everything `mount` mounted, in reverse (trimming and flushing the root last). Idempotent.
    public func unmount() throws {
        defer { forgetRemovedMountPath() }
        var errors = Teardown.Errors()
        errors.attempt("unmount") { try session?.unmountAll() }
        // No command runs any more: the host's handler can go (unless another live run uses it).
        errors.attempt("release the host's binfmt_misc handler") { try hostBinfmtLease?.release() }
        try errors.rethrow()
    }

    /// Unmounts, removes the logical volumes' devices, flushes and detaches. Every step runs even after one fails; the first error is rethrown and
    /// the others logged; a second call has nothing left to do. It looks at no cancellation, so a cancelled
    /// run releases everything the same way.
    public func release() throws {
        var errors = Teardown.Errors()
        errors.attempt("unmount") { try unmount() }
        // Logical volumes point into the attachment's devices: they go first.
        errors.attempt("remove the LVM volumes' devices") { try logicalVolumes?.removeAll() }
        if !detached {
            errors.attempt("flush") { try attached.flush() }
            errors.attempt("detach") {
                try attached.detach()
                detached = true
            }
        }
        try errors.rethrow()
    }

    /// The session removes the mount path it made once nothing is mounted there; then the record goes too.
    private func forgetRemovedMountPath() {
        guard let entry = mountPathEntry, let mountPath, access(mountPath, F_OK) != 0 else { return }
        try? ledger?.released(entry)
        mountPathEntry = nil
    }
}
