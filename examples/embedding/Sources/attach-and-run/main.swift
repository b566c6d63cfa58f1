import Glibc
import NBDCore

// attach-and-run IMAGE [COMMAND ARGS...]
//
// Attaches a qcow2 or raw image, prints its partition table, mounts its root filesystem and runs COMMAND
// (default: cat /etc/os-release) chrooted into it, then releases everything. Exits with the command's
// status. Needs root, like qemu-chroot itself.

/// One line on stderr. (Swift 6 mode rejects C's global `stderr` FILE pointer as shared mutable state.)
func complain(_ message: String) {
    let line = Array("attach-and-run: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

func describe(_ partition: Partition) -> String {
    let filesystem = partition.filesystem.map { fs in fs.type.rawValue + (fs.label.map { " '\($0)'" } ?? "") }
    return "partition \(partition.number): \(partition.type.name), \(partition.size >> 20) MiB at byte "
        + "\(partition.start), \(filesystem ?? "no filesystem")"
}

func attachAndRun(image: String, command: String) throws -> ExitStatus {
    // First, while this process has one thread: every mount from here on is invisible to the host and
    // goes away with the process, even after kill -9.
    try MountNamespace.enterPrivate()
    // Refuses images that name backing files: qemu would read those host files as the disk.
    let format = try BackingChain.read(image, allowOtherFiles: false).source.format
    // .auto picks kernel nbd where the driver is loaded, else FUSE + loop (qcow2) or a loop device (raw).
    // No run ledger here; pass a RunLedger to let `qemu-chroot cleanup` release a killed run's leftovers.
    let mounted = try MountedImage(attaching: AttachRequest(image: image, format: format), ledger: nil)
    print("attached \(image) (\(format.rawValue)) with \(mounted.attached.mode.rawValue)")
    let outcome = Result { () throws -> ExitStatus in
        // The layout is read from the attached disk by our own parsers, not by the kernel.
        let layout = try mounted.readLayout()
        let count = layout.partitions.count
        print("\(layout.table.rawValue) table, \(layout.diskSize >> 20) MiB, \(count) partition\(count == 1 ? "" : "s")")
        layout.partitions.forEach { print(describe($0)) }
        layout.warnings.forEach { print("warning: \($0)") }
        // nil: the root rule; then the root and /proc, /sys, /dev, /dev/pts inside it.
        let root = try mounted.planMounts(mountPartition: nil).root
        // A path that does not exist yet: the session creates it and removes it again when it unmounts.
        let session = try mounted.mount(at: "/run/attach-and-run-\(getpid())", ownsMountPath: true)
        print("mounted partition \(root.volume.number) (\(root.fstype)) from \(root.device)")
        fflush(nil)  // the command writes to the same descriptor, after our lines
        return try session.run(command, stdout: .descriptor(STDOUT_FILENO), stderr: .descriptor(STDERR_FILENO))
    }
    // One release path whatever happened: unmount, flush, detach; the first failure is reported.
    do { try mounted.release() } catch {
        guard case .failure = outcome else { throw error }
        complain("release: \(error)")
    }
    return try outcome.get()
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let image = arguments.first else {
    complain("usage: attach-and-run IMAGE [COMMAND ARGS...]")
    exit(2)
}
let command = arguments.count > 1 ? ShellQuote.join(Array(arguments.dropFirst())) : "cat /etc/os-release"
do {
    let status = try attachAndRun(image: image, command: command)
    print("released everything; the command exited with \(status)")
    exit(status.shellCode)
} catch {
    complain("\(error)")
    exit(1)
}
