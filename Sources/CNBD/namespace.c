#define _GNU_SOURCE
#include "cnbd_namespace.h"
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <unistd.h>

const int CNBD_O_PATH = O_PATH;
const int CNBD_CLONE_NEWNS = CLONE_NEWNS;

int cnbd_unshare(int flags) {
    return unshare(flags);
}

int cnbd_syncfs(int fd) {
    return syncfs(fd);
}

// linux/nsfs.h since 6.9; the build host's headers may be older than the kernel that runs us.
#ifndef NS_GET_MNTNS_ID
#define NS_GET_MNTNS_ID _IOR(0xb7, 0x5, uint64_t)
#endif

int cnbd_mount_namespace_id(int fd, uint64_t *id) {
    return ioctl(fd, NS_GET_MNTNS_ID, id);
}
