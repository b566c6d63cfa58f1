// A run that attaches an image, mounts its volume, and waits to be killed: the attach tests SIGKILL it
// to check that `qemu-chroot cleanup` releases everything a killed run leaves.
// Usage: attach-hold LEDGER_ROOT IMAGE MODE PARTITION MOUNT_DIR [private]
// With "private" it works in its own mount namespace, like the CLI, and leaves a process there that no
// parent-death signal reaches (as a provisioner's daemon would).
// Without "private" it mounts in the HOST namespace on purpose: that case stands for a library caller that
// never entered a private namespace, and the test checks that `cleanup` releases a killed run's host mount.
// Its mounts lie only under the test's own temporary directory (ledger root and MOUNT_DIR).
import Glibc
import NBDCore

let arguments = CommandLine.arguments
guard arguments.count == 6 || arguments.count == 7, let mode = AttachMode(rawValue: arguments[3]), let partition = Int(arguments[4]) else {
    StandardStream.error("usage: attach-hold LEDGER_ROOT IMAGE MODE PARTITION MOUNT_DIR [private]\n")
    exit(2)
}
let privateNamespace = arguments.count == 7 && arguments[6] == "private"
do {
    if privateNamespace { try MountNamespace.enterPrivate() }
    let ledger = try RunLedger(root: arguments[1])
    let format = try ImageProbe.probe(path: arguments[2]).format
    let image = try Attacher.attach(AttachRequest(image: arguments[2], format: format, mode: mode), ledger: ledger)
    let volume = try DiskLayout.read(from: image.disk).volume(mountPartition: partition)
    let device = try image.blockDevice(for: volume)
    let target = arguments[5]
    let entry = try ledger.intend(.mount(path: target))
    try syscall("mount", path: device) { mount(device, target, volume.mountType, 0, nil) }
    try ledger.held(entry, .mount(path: target))
    if privateNamespace {
        var options = SpawnOptions()
        options.deathSignal = 0
        options.newProcessGroup = true
        _ = try ChildProcess.spawn("/bin/sleep", ["300"], options: options)
    }
    StandardStream.output("\(ledger.directory) \(device)\n")
    while true { pause() }
} catch {
    StandardStream.error("attach-hold: \(error)\n")
    exit(1)
}
