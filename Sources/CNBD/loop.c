#include "cnbd_loop.h"
#include <stddef.h>

_Static_assert(sizeof(struct loop_info64) == 232, "loop_info64 is 232 bytes");
_Static_assert(offsetof(struct loop_info64, lo_offset) == 24, "loop_info64.lo_offset at 24");
_Static_assert(offsetof(struct loop_info64, lo_sizelimit) == 32, "loop_info64.lo_sizelimit at 32");
_Static_assert(offsetof(struct loop_info64, lo_flags) == 52, "loop_info64.lo_flags at 52");
_Static_assert(offsetof(struct loop_info64, lo_file_name) == 56, "loop_info64.lo_file_name at 56");
_Static_assert(sizeof(struct loop_config) == 304, "loop_config is 304 bytes");
_Static_assert(offsetof(struct loop_config, fd) == 0, "loop_config.fd at 0");
_Static_assert(offsetof(struct loop_config, block_size) == 4, "loop_config.block_size at 4");
_Static_assert(offsetof(struct loop_config, info) == 8, "loop_config.info at 8");
_Static_assert(LOOP_CONFIGURE == 0x4C0A && LOOP_CTL_GET_FREE == 0x4C82 && LOOP_CLR_FD == 0x4C01,
               "loop ioctl numbers");

const unsigned long cnbd_loop_ctl_get_free = LOOP_CTL_GET_FREE;
const unsigned long cnbd_loop_configure = LOOP_CONFIGURE;
const unsigned long cnbd_loop_clr_fd = LOOP_CLR_FD;
const unsigned long cnbd_loop_get_status64 = LOOP_GET_STATUS64;

const unsigned int cnbd_lo_flags_read_only = LO_FLAGS_READ_ONLY;
const unsigned int cnbd_lo_flags_autoclear = LO_FLAGS_AUTOCLEAR;
const unsigned int cnbd_lo_flags_direct_io = LO_FLAGS_DIRECT_IO;
const unsigned int cnbd_lo_flags_partscan = LO_FLAGS_PARTSCAN;
