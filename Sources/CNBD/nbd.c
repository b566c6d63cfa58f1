#include "cnbd_nbd.h"
#include <sys/ioctl.h>

const unsigned long CNBD_NBD_SET_SOCK = NBD_SET_SOCK;
const unsigned long CNBD_NBD_SET_BLKSIZE = NBD_SET_BLKSIZE;
const unsigned long CNBD_NBD_SET_SIZE_BLOCKS = NBD_SET_SIZE_BLOCKS;
const unsigned long CNBD_NBD_DO_IT = NBD_DO_IT;
const unsigned long CNBD_NBD_CLEAR_SOCK = NBD_CLEAR_SOCK;
const unsigned long CNBD_NBD_DISCONNECT = NBD_DISCONNECT;
const unsigned long CNBD_NBD_SET_TIMEOUT = NBD_SET_TIMEOUT;
const unsigned long CNBD_NBD_SET_FLAGS = NBD_SET_FLAGS;

_Static_assert(NBD_SET_SOCK == 0xab00, "NBD_SET_SOCK");
_Static_assert(NBD_DO_IT == 0xab03, "NBD_DO_IT");
_Static_assert(NBD_SET_FLAGS == 0xab0a, "NBD_SET_FLAGS");
