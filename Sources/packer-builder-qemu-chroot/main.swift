// The Packer plugin: one binary for both Packer generations. Installed as `packer-builder-qemu-chroot`
// for Packer 1.6.x (started with no arguments) and as `packer-plugin-qemu-chroot` for 1.7+ (`describe`,
// `start builder NAME`); PluginLaunch explains how argv tells them apart.
import Glibc
import NBDCore
import PackerRPC

let status = PluginMain.run(
    arguments: CommandLine.arguments,
    environment: ProcessEnvironment.current,
    beforeServing: {
        // TODO(packer): MountNamespace.enterPrivate() once the chroot area lands on main; it must run
        // here, before any thread exists (unshare(CLONE_NEWNS) acts on the calling thread only).
    },
    builder: { QemuChrootPlugin() }
)
exit(status)
