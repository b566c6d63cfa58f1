#define _GNU_SOURCE
#include "cnbd_statx.h"
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int cnbd_statx_identity(const char *path, struct cnbd_file_identity *identity) {
    struct statx info;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME, &info) != 0) return -1;
    identity->device = makedev(info.stx_dev_major, info.stx_dev_minor);
    identity->inode = info.stx_ino;
    identity->has_birth_time = (info.stx_mask & STATX_BTIME) != 0;
    identity->birth_seconds = identity->has_birth_time ? info.stx_btime.tv_sec : 0;
    identity->birth_nanoseconds = identity->has_birth_time ? info.stx_btime.tv_nsec : 0;
    identity->generation = 0;
    identity->has_generation = 0;
    // O_NONBLOCK: a FIFO must not block the open. A path that cannot be opened just has no generation.
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
        int generation = 0;
        if (ioctl(fd, FS_IOC_GETVERSION, &generation) == 0) {
            identity->generation = (uint32_t)generation;
            identity->has_generation = 1;
        }
        close(fd);
    }
    return 0;
}
