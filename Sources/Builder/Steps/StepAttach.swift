import Glibc
import NBDCore

/// Attaches the overlay read-write, grows the partition table when `disk_size` asks for it, and picks the
/// root volume (`mount_partition`, or the layout's root rule) and its block device. Cleanup detaches.
final class StepAttach: Step {
    let name = "attach"

    func run(_ state: BuildState) throws {
        let config = state.config
        guard let mode = AttachMode(rawValue: config.attach) else { throw BuildError("unknown attach mode \(config.attach)") }
        let request = AttachRequest(image: state.overlayPath, format: .qcow2, readOnly: false, mode: mode,
                                    devicePath: config.devicePath)
        let attached = try Attacher.attach(request, ledger: state.ledger)
        state.attached = attached
        state.output.debug("attached with \(attached.mode.rawValue)")
        var layout = try DiskLayout.read(from: attached.disk)
        if config.diskSize != nil {
            let writes = try layout.growLastPartition(newDiskSize: attached.disk.size)
            if !writes.isEmpty {
                state.output.debug("disk_size: rewriting the partition table for \(attached.disk.size) bytes (\(writes.count) writes)")
                let wholeDisk = try attached.blockDevice(number: 0, offset: 0, size: attached.disk.size)
                try apply(writes, to: wholeDisk)
                try attached.flush()
                // Read back through the device written to: attached.disk did not see these writes (FUSE
                // backend: it returned zeros at LBA 1 right after them).
                layout = try DiskLayout.read(from: try FileBlockReader(path: wholeDisk))
            }
        }
        state.layout = layout
        layout.warnings.forEach { state.output.message("warning: \($0)") }
        let volume = try layout.volume(mountPartition: config.mountPartition)
        state.volume = volume
        state.output.debug(config.mountPartition == nil
            ? "mount_partition not set: the root rule chose volume \(volume.number) (\(volume.mountType), \(volume.size) bytes)"
            : "mount_partition \(volume.number): \(volume.mountType), \(volume.size) bytes")
        state.rootDevice = try attached.blockDevice(number: volume.number, offset: volume.offset, size: volume.size)
    }

    func cleanup(_ state: BuildState) throws {
        try state.attached?.detach()
    }

    private func apply(_ writes: [DiskWrite], to device: String) throws {
        let disk = try FileDescriptor.open(device, O_RDWR)
        defer { try? disk.close() }
        for write in writes {
            try write.bytes.withUnsafeBytes { try disk.pwriteAll($0, at: write.offset) }
        }
        try syscall("fsync", path: device) { fsync(disk.rawValue) }
    }
}
