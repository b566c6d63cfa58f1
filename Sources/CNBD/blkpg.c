#include "cnbd_blkpg.h"
#include <stddef.h>
#include <linux/fs.h>
#include <sys/sysmacros.h>

const unsigned long CNBD_BLKPG = BLKPG;
const unsigned long CNBD_BLKGETSIZE64 = BLKGETSIZE64;
const unsigned long CNBD_BLKSSZGET = BLKSSZGET;
const unsigned long CNBD_BLKFLSBUF = BLKFLSBUF;

dev_t cnbd_makedev(unsigned int major, unsigned int minor) {
    return makedev(major, minor);
}

// The layout the kernel reads (block/ioctl.c); Swift fills these structs field by field.
_Static_assert(BLKPG == 0x1269, "BLKPG");
_Static_assert(sizeof(struct blkpg_ioctl_arg) == 24, "blkpg_ioctl_arg");
_Static_assert(offsetof(struct blkpg_ioctl_arg, data) == 16, "blkpg_ioctl_arg.data");
_Static_assert(sizeof(struct blkpg_partition) == 152, "blkpg_partition");
_Static_assert(offsetof(struct blkpg_partition, pno) == 16, "blkpg_partition.pno");
_Static_assert(offsetof(struct blkpg_partition, devname) == 20, "blkpg_partition.devname");
