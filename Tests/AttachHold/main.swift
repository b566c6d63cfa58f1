// A run that attaches an image, mounts its volume, and waits to be killed: the attach tests SIGKILL it
// to check that `qemu-chroot cleanup` releases everything a killed run leaves.
// Usage: attach-hold LEDGER_ROOT IMAGE FORMAT MODE OFFSET SIZE MOUNT_DIR
import Glibc
import NBDCore

let arguments = CommandLine.arguments
guard arguments.count == 8, let mode = AttachMode(rawValue: arguments[4]),
      let offset = UInt64(arguments[5]), let size = UInt64(arguments[6]) else {
    fputs("usage: attach-hold LEDGER_ROOT IMAGE FORMAT MODE OFFSET SIZE MOUNT_DIR\n", stderr)
    exit(2)
}
do {
    let ledger = try RunLedger(root: arguments[1])
    let image = try Attacher.attach(AttachRequest(image: arguments[2], format: arguments[3], mode: mode), ledger: ledger)
    let device = try image.blockDevice(number: 1, offset: offset, size: size)
    let target = arguments[7]
    let entry = try ledger.intend(.mount(path: target))
    try syscall("mount", path: device) { mount(device, target, "ext4", 0, nil) }
    try ledger.held(entry, .mount(path: target))
    print(ledger.directory, device)
    fflush(stdout)
    while true { pause() }
} catch {
    fputs("attach-hold: \(error)\n", stderr)
    exit(1)
}
