#ifndef CNBD_NBD_H
#define CNBD_NBD_H
// Why C: the nbd ioctl numbers are _IO() macros, which Swift cannot import; they are exported as constants.
// The flag values are plain macros and come through <linux/nbd.h> directly.
#include <linux/nbd.h>

extern const unsigned long CNBD_NBD_SET_SOCK;
extern const unsigned long CNBD_NBD_SET_BLKSIZE;
extern const unsigned long CNBD_NBD_SET_SIZE_BLOCKS;
extern const unsigned long CNBD_NBD_DO_IT;
extern const unsigned long CNBD_NBD_CLEAR_SOCK;
extern const unsigned long CNBD_NBD_DISCONNECT;
extern const unsigned long CNBD_NBD_SET_TIMEOUT;
extern const unsigned long CNBD_NBD_SET_FLAGS;

#endif
