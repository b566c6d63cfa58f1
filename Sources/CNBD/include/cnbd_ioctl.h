#ifndef CNBD_IOCTL_H
#define CNBD_IOCTL_H
// Why C: ioctl(2) is variadic, and the Glibc overlay's non-variadic ioctl(fd, UInt, CInt) truncates its
// argument to 32 bits. These two shims pass the argument as a full unsigned long or as a pointer.
// Both return the raw result; the Swift syscall wrapper reads errno and retries EINTR.

int cnbd_ioctl_value(int fd, unsigned long request, unsigned long value);
int cnbd_ioctl_pointer(int fd, unsigned long request, void *_Nullable argument);

#endif
