#ifndef CNBD_DM_H
#define CNBD_DM_H
// Why C: device-mapper's ioctls take one variable-length buffer: struct dm_ioctl (linux/dm-ioctl.h), then for
// DM_TABLE_LOAD one struct dm_target_spec per target, each followed by its parameter string padded to 8 bytes.
// The layout is the kernel's; C builds and reads it with the header's own structs (sizes checked in dm.c), and
// the _IOWR() ioctl numbers are exported as values. The ioctl itself is made from Swift (FileDescriptor.ioctl).
#include <stddef.h>
#include <stdint.h>

extern const unsigned long CNBD_DM_DEV_CREATE;
extern const unsigned long CNBD_DM_DEV_REMOVE;
extern const unsigned long CNBD_DM_DEV_SUSPEND;   // without DM_SUSPEND_FLAG: resume, making a loaded table live
extern const unsigned long CNBD_DM_DEV_STATUS;
extern const unsigned long CNBD_DM_TABLE_LOAD;
extern const uint32_t CNBD_DM_READONLY_FLAG;
extern const size_t CNBD_DM_NAME_LEN;             // with the terminating NUL
extern const size_t CNBD_DM_UUID_LEN;             // with the terminating NUL

/// One target of a table: `sectors` 512-byte sectors from `start_sector` of the mapped device, served by
/// target `type` ("linear") with `params` ("253:0 2048").
struct cnbd_dm_target {
    uint64_t start_sector;
    uint64_t sectors;
    const char *_Nonnull type;
    const char *_Nonnull params;
};

/// Fills `buffer` (`capacity` bytes, zeroed here) with a dm_ioctl for device `name` (and `uuid`, may be NULL),
/// `flags`, followed by `count` targets. Returns the bytes used, or 0 when a name, uuid, type or the buffer is
/// too small for them.
size_t cnbd_dm_encode(void *_Nonnull buffer, size_t capacity, const char *_Nonnull name, const char *_Nullable uuid,
                      uint32_t flags, const struct cnbd_dm_target *_Nullable targets, size_t count);

/// The device number (dev_t encoding) the kernel returned in an answered buffer.
uint64_t cnbd_dm_dev(const void *_Nonnull buffer);
/// How many openers the device has, from an answered DM_DEV_STATUS.
int32_t cnbd_dm_open_count(const void *_Nonnull buffer);
/// major(3) and minor(3), which are macros: for dm's "MAJOR:MINOR" device names in table parameters.
unsigned int cnbd_dev_major(uint64_t dev);
unsigned int cnbd_dev_minor(uint64_t dev);

#endif
