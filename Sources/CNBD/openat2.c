#define _GNU_SOURCE
#include "cnbd_openat2.h"
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

// Mirrors struct open_how from <linux/openat2.h> (not included: it clashes with glibc's fcntl.h on some
// distributions).
struct cnbd_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};
_Static_assert(sizeof(struct cnbd_open_how) == 24, "open_how is 24 bytes");

int cnbd_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct cnbd_open_how how = {flags, mode, resolve};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}
