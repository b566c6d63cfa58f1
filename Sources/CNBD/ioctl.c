#include "cnbd_ioctl.h"
#include <sys/ioctl.h>

int cnbd_ioctl_value(int fd, unsigned long request, unsigned long value) {
    return ioctl(fd, request, value);
}

int cnbd_ioctl_pointer(int fd, unsigned long request, void *argument) {
    return ioctl(fd, request, argument);
}
