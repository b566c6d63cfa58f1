/// How an image becomes a block device on the host (template key `attach`, CLI `--attach`).
public enum AttachMode: String, CaseIterable, Codable, Sendable {
    /// The best the host offers: nbd when the kernel driver is there, else FUSE (qcow2) or loop (raw).
    case auto
    /// Kernel nbd driver over generic netlink.
    case nbd
    /// Kernel nbd driver over the legacy ioctls.
    case nbdIoctl = "nbd-ioctl"
    /// qemu-storage-daemon exports the image as a raw file over FUSE; loop devices map its volumes.
    case fuse
    /// Loop devices directly on a raw image file.
    case loop
}
