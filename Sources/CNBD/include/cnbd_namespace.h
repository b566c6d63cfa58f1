#ifndef CNBD_NAMESPACE_H
#define CNBD_NAMESPACE_H

#include <stdint.h>

// Why C: unshare(2), syncfs(2), O_PATH and CLONE_NEWNS are declared only under _GNU_SOURCE, which the Swift Glibc
// module does not define.

extern const int CNBD_O_PATH;
extern const int CNBD_CLONE_NEWNS;

// unshare(flags); returns 0 or -1 with errno.
int cnbd_unshare(int flags);

// syncfs(fd); returns 0 or -1 with errno.
int cnbd_syncfs(int fd);

// ioctl(NS_GET_MNTNS_ID) on an open /proc/PID/ns/mnt: the namespace's 64-bit id, which unlike its inode is
// never reused within a boot. Returns 0, or -1 with errno (ENOTTY before Linux 6.9).
int cnbd_mount_namespace_id(int fd, uint64_t *_Nonnull id);

#endif
