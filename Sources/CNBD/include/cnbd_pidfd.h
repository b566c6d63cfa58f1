#ifndef CNBD_PIDFD_H
#define CNBD_PIDFD_H
// Why C: pidfd_open(2) has no Glibc-module declaration and syscall(2) is variadic, which Swift cannot call.

#include <sys/types.h>

// pidfd_open(pid, 0) with O_CLOEXEC semantics (pidfds are always close-on-exec); returns the fd or -1 with errno.
int cnbd_pidfd_open(pid_t pid);

#endif
