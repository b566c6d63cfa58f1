import Glibc
import NBDCore

// attach-and-run IMAGE [COMMAND ARGS...]
//
// Attaches a qcow2 or raw image, prints its partition table, mounts its root filesystem and runs COMMAND
// (default: cat /etc/os-release) chrooted into it, then releases everything in reverse order. Exits with
// the command's status. Needs root, like qemu-chroot itself.

/// One line on stderr. (Swift 6 mode rejects C's global `stderr` FILE pointer as shared mutable state.)
func complain(_ message: String) {
    let line = Array("attach-and-run: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

/// Runs `body`, then `release` whether or not `body` threw. The first error wins: a failure to release
/// after a failed body is reported on stderr instead of hiding the body's error.
func releasing<T>(_ what: String, _ release: () throws -> Void, after body: () throws -> T) throws -> T {
    let result = Result { try body() }
    do { try release() } catch {
        guard case .failure = result else { throw error }
        complain("\(what): \(error)")
    }
    return try result.get()
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

    let format = try ImageProbe.probe(path: image).format
    // .auto picks kernel nbd where the driver is loaded, else FUSE + loop (qcow2) or a loop device (raw).
    // No run ledger here; pass one to let `qemu-chroot cleanup` release a killed run's leftovers.
    let attached = try Attacher.attach(AttachRequest(image: image, format: format), ledger: nil)
    print("attached \(image) (\(format.rawValue)) with \(attached.mode.rawValue)")
    return try releasing("detach", { try attached.detach() }) {
        // The layout is read from the attached disk by our own parsers, not by the kernel.
        let layout = try DiskLayout.read(from: attached.disk)
        let count = layout.partitions.count
        print("\(layout.table.rawValue) table, \(layout.diskSize >> 20) MiB, \(count) partition\(count == 1 ? "" : "s")")
        layout.partitions.forEach { print(describe($0)) }
        layout.warnings.forEach { print("warning: \($0)") }

        let root = try layout.volume(mountPartition: nil)
        let device = try attached.blockDevice(for: root)
        let mountPath = try PrivateDirectory.make("attach-and-run-root")
        return try releasing("remove \(mountPath)", { try syscall("rmdir", path: mountPath) { rmdir(mountPath) } }) {
            // Mounts the root, then /proc, /sys, /dev, /dev/pts inside it.
            let session = try ChrootSession(device: device, fstype: root.mountType, mountPath: mountPath)
            print("mounted partition \(root.number) (\(root.mountType)) from \(device)")
            return try releasing("unmount", { try session.unmountAll() }) {
                fflush(nil)  // the command writes to the same descriptor, after our lines
                return try session.run(command, stdout: .descriptor(STDOUT_FILENO), stderr: .descriptor(STDERR_FILENO))
            }
        }
    }
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
