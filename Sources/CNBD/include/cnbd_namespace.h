#ifndef CNBD_NAMESPACE_H
#define CNBD_NAMESPACE_H

// Why C: unshare(2), syncfs(2), O_PATH and CLONE_NEWNS are declared only under _GNU_SOURCE, which the Swift Glibc
// module does not define.

extern const int CNBD_O_PATH;
extern const int CNBD_CLONE_NEWNS;

// unshare(flags); returns 0 or -1 with errno.
int cnbd_unshare(int flags);

// syncfs(fd); returns 0 or -1 with errno.
int cnbd_syncfs(int fd);

#endif
