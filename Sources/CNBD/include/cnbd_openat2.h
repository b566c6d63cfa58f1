#ifndef CNBD_OPENAT2_H
#define CNBD_OPENAT2_H
#include <stdint.h>

// Why C: glibc has no openat2(2) wrapper and Swift cannot call the variadic syscall(2). openat2 with
// RESOLVE_IN_ROOT is how every path inside an image is resolved: symlinks (even absolute ones and "..")
// are confined to the image root, so a hostile image cannot point us at host files.

enum {
    CNBD_RESOLVE_NO_XDEV = 0x01,
    CNBD_RESOLVE_NO_MAGICLINKS = 0x02,
    CNBD_RESOLVE_NO_SYMLINKS = 0x04,
    CNBD_RESOLVE_BENEATH = 0x08,
    CNBD_RESOLVE_IN_ROOT = 0x10,
};

// openat2(dirfd, path, {flags, mode, resolve}); returns the fd or -1 with errno.
int cnbd_openat2(int dirfd, const char *_Nonnull path, uint64_t flags, uint64_t mode, uint64_t resolve);

#endif
