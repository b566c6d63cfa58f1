#define _GNU_SOURCE
#include "cnbd_fd.h"
#include <fcntl.h>
#include <unistd.h>

int cnbd_pipe_cloexec(int *fds) {
    return pipe2(fds, O_CLOEXEC);
}
