#ifndef CNBD_FD_H
#define CNBD_FD_H
// Why C: pipe2(2) is declared only under _GNU_SOURCE, which the Swift Glibc module does not define.

// pipe2(fds, O_CLOEXEC); returns 0 or -1 with errno.
int cnbd_pipe_cloexec(int *_Nonnull fds);

#endif
