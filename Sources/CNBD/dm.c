#include "cnbd_dm.h"
#include <linux/ioctl.h>
#include <linux/dm-ioctl.h>
#include <string.h>
#include <sys/sysmacros.h>

const unsigned long CNBD_DM_DEV_CREATE = DM_DEV_CREATE;
const unsigned long CNBD_DM_DEV_REMOVE = DM_DEV_REMOVE;
const unsigned long CNBD_DM_DEV_SUSPEND = DM_DEV_SUSPEND;
const unsigned long CNBD_DM_DEV_STATUS = DM_DEV_STATUS;
const unsigned long CNBD_DM_TABLE_LOAD = DM_TABLE_LOAD;
const uint32_t CNBD_DM_READONLY_FLAG = DM_READONLY_FLAG;
const size_t CNBD_DM_NAME_LEN = DM_NAME_LEN;
const size_t CNBD_DM_UUID_LEN = DM_UUID_LEN;

// The layout the kernel reads (drivers/md/dm-ioctl.c); libdevmapper relies on the same offsets.
_Static_assert(sizeof(struct dm_ioctl) == 312, "dm_ioctl");
_Static_assert(offsetof(struct dm_ioctl, dev) == 40, "dm_ioctl.dev");
_Static_assert(offsetof(struct dm_ioctl, name) == 48, "dm_ioctl.name");
_Static_assert(sizeof(struct dm_target_spec) == 40, "dm_target_spec");

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

size_t cnbd_dm_encode(void *buffer, size_t capacity, const char *name, const char *uuid, uint32_t flags,
                      const struct cnbd_dm_target *targets, size_t count) {
    if (capacity < sizeof(struct dm_ioctl) || strlen(name) >= DM_NAME_LEN || (uuid && strlen(uuid) >= DM_UUID_LEN))
        return 0;
    memset(buffer, 0, capacity);
    struct dm_ioctl *io = buffer;
    io->version[0] = DM_VERSION_MAJOR;
    io->version[1] = 0;
    io->version[2] = 0;
    io->data_start = sizeof(struct dm_ioctl);
    io->flags = flags;
    io->target_count = (uint32_t)count;
    strcpy(io->name, name);
    if (uuid) strcpy(io->uuid, uuid);
    size_t used = sizeof(struct dm_ioctl);
    for (size_t i = 0; i < count; i++) {
        size_t params = strlen(targets[i].params) + 1;
        size_t size = align8(sizeof(struct dm_target_spec) + params);
        if (strlen(targets[i].type) >= DM_MAX_TYPE_NAME || used + size > capacity) return 0;
        struct dm_target_spec *spec = (struct dm_target_spec *)((char *)buffer + used);
        spec->sector_start = targets[i].start_sector;
        spec->length = targets[i].sectors;
        spec->next = (uint32_t)size;  // on load: from the start of this spec to the next one
        strcpy(spec->target_type, targets[i].type);
        memcpy((char *)(spec + 1), targets[i].params, params);
        used += size;
    }
    // Answers (DM_DEV_STATUS) are written into the rest of the buffer: the kernel may use all of it.
    io->data_size = (uint32_t)(count ? used : capacity);
    return used;
}

uint64_t cnbd_dm_dev(const void *buffer) { return ((const struct dm_ioctl *)buffer)->dev; }

int32_t cnbd_dm_open_count(const void *buffer) { return ((const struct dm_ioctl *)buffer)->open_count; }

unsigned int cnbd_dev_major(uint64_t dev) { return major(dev); }

unsigned int cnbd_dev_minor(uint64_t dev) { return minor(dev); }
