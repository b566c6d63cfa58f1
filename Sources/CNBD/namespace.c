#define _GNU_SOURCE
#include "cnbd_namespace.h"
#include <fcntl.h>
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
