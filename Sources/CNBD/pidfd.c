#define _GNU_SOURCE
#include "cnbd_pidfd.h"
#include <sys/syscall.h>
#include <unistd.h>

int cnbd_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}
