#define _GNU_SOURCE
#include "cnbd_fsmount.h"
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

// The same numbers on every architecture (the unified syscall table, Linux 5.2).
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif

// From <linux/mount.h> (not included: it clashes with glibc's sys/mount.h on some distributions).
enum { CNBD_FSOPEN_CLOEXEC = 0x1, CNBD_FSCONFIG_CMD_CREATE = 6, CNBD_FSMOUNT_CLOEXEC = 0x1 };

int cnbd_fsmount_detached(const char *fstype) {
    int context = (int)syscall(SYS_fsopen, fstype, CNBD_FSOPEN_CLOEXEC);
    if (context < 0) return -1;
    int mount_fd = -1;
    if (syscall(SYS_fsconfig, context, CNBD_FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        mount_fd = (int)syscall(SYS_fsmount, context, CNBD_FSMOUNT_CLOEXEC, 0);
    int saved = errno;
    close(context);
    errno = saved;
    return mount_fd;
}
