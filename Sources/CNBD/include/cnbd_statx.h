#ifndef CNBD_STATX_H
#define CNBD_STATX_H
// Why C: the Glibc module exports neither statx(2) nor FS_IOC_GETVERSION (an _IOR() ioctl number), and only
// these tell a file from a later one that the filesystem gave the same inode number (ext4 does at once).

#include <stdint.h>

struct cnbd_file_identity {
    uint64_t device;
    uint64_t inode;
    /// Birth time; has_birth_time is 0 where the filesystem does not record it. Its clock is the kernel's
    /// coarse one (a few milliseconds), so it alone cannot tell files made within one tick.
    int64_t birth_seconds;
    uint32_t birth_nanoseconds;
    int32_t has_birth_time;
    /// The inode's generation (FS_IOC_GETVERSION), new at each allocation of the inode number (ext4, xfs,
    /// btrfs, tmpfs); has_generation is 0 where the filesystem has none.
    uint32_t generation;
    int32_t has_generation;
};

// statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW) of the path itself (a symlink is not followed), and the
// generation of what it names if it can be opened without blocking; returns 0, or -1 with errno.
int cnbd_statx_identity(const char *_Nonnull path, struct cnbd_file_identity *_Nonnull identity);

#endif
