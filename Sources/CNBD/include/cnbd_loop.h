#ifndef CNBD_LOOP_H
#define CNBD_LOOP_H
// Why C: the loop ioctl numbers are plain macros Swift could import, but the structures they take must
// match the kernel's layout exactly; the static asserts in loop.c check that layout at build time against
// the offsets we rely on (util-linux lib/loopdev.c uses the same ones), and the constants are exported here
// so every Swift caller uses the checked values.
#include <linux/loop.h>

extern const unsigned long cnbd_loop_ctl_get_free;  // LOOP_CTL_GET_FREE on /dev/loop-control → free index
extern const unsigned long cnbd_loop_configure;     // LOOP_CONFIGURE (5.8+): fd + loop_info64 in one call
extern const unsigned long cnbd_loop_clr_fd;        // LOOP_CLR_FD: detach (only sets AUTOCLEAR while open elsewhere)
extern const unsigned long cnbd_loop_get_status64;  // LOOP_GET_STATUS64

extern const unsigned int cnbd_lo_flags_read_only;  // LO_FLAGS_READ_ONLY
extern const unsigned int cnbd_lo_flags_autoclear;  // LO_FLAGS_AUTOCLEAR: detach on last close
extern const unsigned int cnbd_lo_flags_direct_io;  // LO_FLAGS_DIRECT_IO
extern const unsigned int cnbd_lo_flags_partscan;   // LO_FLAGS_PARTSCAN: partitions dropped when the device is cleared

#endif
