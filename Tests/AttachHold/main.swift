// A run that attaches an image, mounts its volume, and waits to be killed: the attach tests SIGKILL it
// to check that `qemu-chroot cleanup` releases everything a killed run leaves.
// Usage: attach-hold LEDGER_ROOT IMAGE MODE PARTITION MOUNT_DIR
import Glibc
import NBDCore

let arguments = CommandLine.arguments
guard arguments.count == 6, let mode = AttachMode(rawValue: arguments[3]), let partition = Int(arguments[4]) else {
    fputs("usage: attach-hold LEDGER_ROOT IMAGE MODE PARTITION MOUNT_DIR\n", stderr)
    exit(2)
}
do {
    let ledger = try RunLedger(root: arguments[1])
    let format = try ImageProbe.probe(path: arguments[2]).format
    let image = try Attacher.attach(AttachRequest(image: arguments[2], format: format, mode: mode), ledger: ledger)
    let volume = try DiskLayout.read(from: image.disk).volume(mountPartition: partition)
    let device = try image.blockDevice(for: volume)
    let target = arguments[5]
    let entry = try ledger.intend(.mount(path: target))
    try syscall("mount", path: device) { mount(device, target, volume.mountType, 0, nil) }
    try ledger.held(entry, .mount(path: target))
    print(ledger.directory, device)
    fflush(stdout)
    while true { pause() }
} catch {
    fputs("attach-hold: \(error)\n", stderr)
    exit(1)
}
