import CNBD
import Glibc
import HostSystem
import ImageLayout

/// Block devices for an image's LVM logical volumes, made by us alone: no lvm2 tools, and never the host's LVM.
///
/// With device-mapper, each LV is a dm device named `qemu-chroot-<run id>-<vg>-<lv>` (run-unique, so a host VG of
/// the same name never clashes; its uuid does not start with `LVM-`, so lvm2's udev rules make no /dev/VG/LV
/// links for it), one linear target per segment. The targets point at a whole-disk view of the image that is not
/// partitioned (a loop device; past the label when a PV fills the whole disk), so no device of ours starts with
/// an LVM label: blkid never tags one
/// `LVM2_member`, and lvm2's udev rules (69-lvm.rules), which run `pvscan` and `vgchange -aay` only on such
/// devices, never see the image's PVs through us. Where the kernel made partitions of its own on an nbd device,
/// those holding a PV are opened O_EXCL while the image is mapped, so the host's LVM cannot activate them
/// (device-mapper's claim of the partition fails with EBUSY). Each dm device is in the run ledger, so
/// `qemu-chroot cleanup` removes it after a kill -9.
///
/// Without device-mapper, a single-segment linear LV is the attachment's own device at its offset (a loop
/// device, or a BLKPG partition on nbd); anything else stops with a sentence.
final class LogicalVolumeDevices {
    private let attached: AttachedImage
    private let ledger: RunLedger?
    private let readOnly: Bool
    private let runID: String
    /// nil when this host has device-mapper; checked once.
    let deviceMapperMissing: String?

    private struct Mapped {
        let source: ImageVolume.Source
        let name: String
        let node: BlockDeviceNode
        let ledgerEntry: Int?
    }

    private var mapped: [Mapped] = []
    /// The whole-disk view the dm tables point at, when it is ours (nbd): a loop device over the nbd device.
    private var wholeDiskLoop: RecordedLoopDevice?
    private var wholeDisk: (path: String, device: dev_t, start: UInt64)?
    /// Kernel-made nbd partitions holding a PV, held O_EXCL while mapped.
    private var claims: [FileDescriptor] = []

    init(attached: AttachedImage, ledger: RunLedger?, readOnly: Bool) {
        self.attached = attached
        self.ledger = ledger
        self.readOnly = readOnly
        runID = ledger?.runID ?? RunLedger.newRunID()
        deviceMapperMissing = DeviceMapper.unavailableReason
    }

    /// The device for logical volume `volume`, whose linear segments are `pieces`, of an image whose PVs are
    /// `physicalVolumes`.
    func device(for volume: Volume, pieces: [LVMDiskPiece], physicalVolumes: [LVMFoundPhysicalVolume]) throws -> String {
        guard case .logicalVolume(let group, let lv) = volume.source else { return try attached.blockDevice(for: volume) }
        if let existing = mapped.first(where: { $0.source == volume.source }) { return existing.node.path }
        guard !pieces.isEmpty else { throw AttachError("LVM volume \(group)/\(lv) has no segments to map") }
        guard deviceMapperMissing == nil else {
            guard pieces.count == 1 else {
                throw AttachError("LVM volume \(group)/\(lv) is linear in \(pieces.count) segments, which only device-mapper "
                    + "can join, and \(deviceMapperMissing ?? "")")
            }
            return try attached.blockDevice(for: volume)
        }
        try claimKernelPartitions(physicalVolumes.map(\.partitionNumber))
        let base = try wholeDiskView(physicalVolumes)
        var targets: [DeviceMapper.Target] = [], start: UInt64 = 0
        for piece in pieces {
            guard piece.offset >= base.start else {
                throw AttachError("LVM volume \(group)/\(lv) starts at byte \(piece.offset), before the extents of its PV")
            }
            targets.append(.linear(startSector: start, sectors: piece.size / 512, device: base.device,
                                   offset: piece.offset - base.start))
            start += piece.size / 512
        }
        let name = Self.name(runID: runID, group: group, volume: lv, index: mapped.count)
        let entry = try ledger?.intend(.deviceMapper(name: name))
        do {
            let dev = try DeviceMapper.create(name: name, uuid: "QEMU-CHROOT-\(runID)-\(mapped.count)", targets: targets,
                                              readOnly: readOnly)
            if let entry { try? ledger?.held(entry, .deviceMapper(name: name)) }
            do {
                let node = try BlockDeviceNode(name: "dm-\(cnbd_dev_minor(UInt64(dev)))")
                mapped.append(Mapped(source: volume.source, name: name, node: node, ledgerEntry: entry))
                Log.debug("LVM volume \(group)/\(lv): \(node.path) (device-mapper \(name), \(pieces.count) segment(s) on \(base.path))")
                return node.path
            } catch {
                try? DeviceMapper.remove(name)
                throw error
            }
        } catch {
            if let entry { try? ledger?.released(entry) }
            throw error
        }
    }

    /// `qemu-chroot-<run id>-<vg>-<lv>`, with each `-` in the names doubled as lvm2 does; a pair too long for
    /// device-mapper's 127 bytes is `qemu-chroot-<run id>-lv<N>`.
    static func name(runID: String, group: String, volume: String, index: Int) -> String {
        func escaped(_ name: String) -> String { name.split(separator: "-", omittingEmptySubsequences: false).joined(separator: "--") }
        let full = "qemu-chroot-\(runID)-\(escaped(group))-\(escaped(volume))"
        return full.utf8.count < CNBD_DM_NAME_LEN ? full : "qemu-chroot-\(runID)-lv\(index)"
    }

    /// The device the dm tables point at, and the disk byte it starts at. nbd: a loop device over the nbd
    /// device, so partitions of the nbd device stay mountable (a dm table on the nbd device itself would claim
    /// it, and the kernel refuses to mount a partition of a claimed disk). Loop and FUSE: a loop device of the
    /// attachment, which has no partitions. It starts at byte 0 (blkid sees the partition table), unless a PV
    /// fills the whole disk: then it starts at that PV's extents, so its label is not at the start of it either.
    private func wholeDiskView(_ physicalVolumes: [LVMFoundPhysicalVolume]) throws -> (path: String, device: dev_t, start: UInt64) {
        if let wholeDisk { return wholeDisk }
        let start = physicalVolumes.first { $0.partitionNumber == 0 }?.label.dataAreas.first?.offset ?? 0
        var path: String
        if attached.mode == .nbd || attached.mode == .nbdIoctl {
            let disk = try attached.blockDevice(number: 0, offset: 0, size: attached.disk.size)
            let loop = try RecordedLoopDevice.attach(backingFile: disk, offset: start, size: 0, readOnly: readOnly, ledger: ledger)
            wholeDiskLoop = loop
            path = loop.device.path
        } else {
            guard start < attached.disk.size else { throw AttachError("the image's PV extents start past the end of the disk") }
            path = try attached.blockDevice(number: start == 0 ? 0 : Volume.logicalVolumeNumbers, offset: start,
                                            size: attached.disk.size - start)
        }
        var info = stat()
        try syscall("stat", path: path) { stat(path, &info) }
        let view = (path: path, device: info.st_rdev, start: start)
        wholeDisk = view
        return view
    }

    /// The kernel's own partitions of an nbd device that hold a PV of the image (`partitions`), opened O_EXCL:
    /// device-mapper claims the devices a table uses, and a claim fails while we hold one, so the host's LVM
    /// cannot activate the image's volume groups on them. Called as soon as the layout is known, since the
    /// kernel made them (and udev saw them) at attach; EBUSY here means the host's LVM was faster.
    func claimKernelPartitions(_ partitions: [Int]) throws {
        guard claims.isEmpty, deviceMapperMissing == nil, attached.mode == .nbd || attached.mode == .nbdIoctl else { return }
        let disk = try attached.blockDevice(number: 0, offset: 0, size: attached.disk.size)
        let diskName = String(disk.split(separator: "/").last ?? "")
        for number in Set(partitions).sorted() where number > 0 {
            let name = BlockSysfs.partitionName(disk: diskName, number: number)
            guard BlockSysfs.exists("/sys/class/block/\(name)") else { continue }
            let node = try BlockDeviceNode(name: name)
            defer { node.remove() }
            do {
                claims.append(try FileDescriptor.open(node.path, O_RDONLY | O_EXCL | O_CLOEXEC))
            } catch let error as SystemError where error.errno == EBUSY {
                let holders = BlockSysfs.holders(of: name)
                throw AttachError("/dev/\(name), the image's LVM physical volume, is already in use"
                    + (holders.isEmpty ? "" : " by \(holders.joined(separator: ", "))")
                    + ": the host's LVM activated a volume group of the image; deactivate it (vgchange -an --select "
                    + "vg_uuid=…) and keep the host's LVM off nbd devices (a global_filter in lvm.conf) before trying again")
            }
        }
    }

    /// Removes the dm devices (newest first), then the whole-disk loop and the claims. Every step runs; the first
    /// error is thrown. Idempotent.
    func removeAll() throws {
        var errors = Teardown.Errors()
        while let last = mapped.popLast() {
            last.node.remove()
            errors.attempt("remove device-mapper device \(last.name)") {
                try DeviceMapper.remove(last.name)
                if let entry = last.ledgerEntry { try? ledger?.released(entry) }
            }
        }
        if let loop = wholeDiskLoop {
            wholeDiskLoop = nil
            errors.attempt("detach \(loop.device.path)") { try loop.detach(ledger) }
        }
        wholeDisk = nil
        while let claim = claims.popLast() { try? claim.close() }
        try errors.rethrow()
    }
}
