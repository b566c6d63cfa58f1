#ifndef CNBD_BLKPG_H
#define CNBD_BLKPG_H
// Why C: BLKPG and the other block ioctl numbers are _IO()/_IOR() macros Swift cannot import, and makedev is a
// macro. The blkpg structs come through <linux/blkpg.h> (sizes checked in blkpg.c).
#include <linux/blkpg.h>
#include <sys/types.h>

extern const unsigned long CNBD_BLKPG;
extern const unsigned long CNBD_BLKGETSIZE64;
extern const unsigned long CNBD_BLKSSZGET;
extern const unsigned long CNBD_BLKFLSBUF;

dev_t cnbd_makedev(unsigned int major, unsigned int minor);

#endif
