// The Packer plugin binary; implemented with PackerRPC (issue: A real Packer plugin).
import Glibc
fputs("packer-builder-qemu-chroot: not available in this build\n", stderr)
exit(1)
