// The Packer plugin: one binary for both Packer generations. Installed as `packer-builder-qemu-chroot`
// for Packer 1.6.x (started with no arguments) and as `packer-plugin-qemu-chroot` for 1.7+ (`describe`,
// `start builder NAME`); PluginLaunch explains how argv tells them apart.
import Glibc
import NBDCore
import PackerRPC

// Packer shows the plugin's stderr in its log: the same lines as the CLI's.
Log.logger = QemuChrootLogHandler.logger()
var namespaceFailure: Error?
let status = PluginMain.run(
    arguments: CommandLine.arguments,
    environment: ProcessEnvironment.current,
    beforeServing: {
        // First thing, before any thread exists: unshare(CLONE_NEWNS) acts on the calling thread only.
        // Without root this fails; Prepare (packer validate) still works and Run reports why it cannot.
        do { try MountNamespace.enterPrivate() } catch { namespaceFailure = error }
    },
    builder: { QemuChrootPlugin(runBlocker: namespaceFailure.map { "\($0) (the qemu-chroot builder needs root)" }) }
)
exit(status)
