#ifndef CNBD_NETLINK_H
#define CNBD_NETLINK_H
#include <stddef.h>
#include <stdint.h>

// Why C: the nbd driver's generic-netlink family is spoken through libnl-genl-3 (family resolution, message
// building, ACK handling), a C library. These shims only translate arguments to libnl calls; the policy (which
// device, which flags, error messages) lives in Swift (NBDCore/Kernel).
//
// Every call returns a non-negative result or a negative errno (the kernel's own error from the NLMSG_ERROR
// reply when there is one). CNBD_NL_NO_FAMILY means the "nbd" family does not exist: the driver is not loaded.

#define CNBD_NL_NO_FAMILY (-65536)

struct cnbd_nl_connect_request {
    const int *_Nonnull sockets;             // one per connection; the kernel takes its own references
    unsigned int socket_count;
    uint64_t size_bytes;
    uint64_t block_size_bytes;               // 0: omit (the kernel defaults to 1024)
    uint64_t server_flags;                   // the export's transmission flags, unchanged
    uint64_t timeout_seconds;                // 0: omit
    uint64_t client_flags;                   // NBD_CFLAG_*; 0: omit
    const char *_Nullable backend_identifier;
    int64_t index;                           // < 0: the kernel picks (or creates) a free device
};

struct cnbd_nl_device_status {
    uint32_t index;
    uint8_t connected;
};

// The family id of "nbd", or CNBD_NL_NO_FAMILY, or -errno.
int cnbd_nl_resolve_family(void);

// NBD_CMD_CONNECT: the device index the kernel used, or a negative error.
int cnbd_nl_connect(const struct cnbd_nl_connect_request *_Nonnull request);

// NBD_CMD_DISCONNECT of one device: 0 or a negative error.
int cnbd_nl_disconnect(uint32_t index);

// NBD_CMD_STATUS of all devices: the number of devices the kernel listed (which may exceed capacity; only
// capacity entries are written), or a negative error.
int cnbd_nl_status(struct cnbd_nl_device_status *_Nullable devices, int capacity);

// The exact bytes cnbd_nl_connect / cnbd_nl_disconnect send (before libnl fills in the port), for the
// recording control and the golden-vector test. Returns the length (which may exceed capacity; only capacity
// bytes are copied) or a negative error.
int cnbd_nl_connect_message(const struct cnbd_nl_connect_request *_Nonnull request, int family, uint32_t sequence,
                            uint8_t *_Nullable buffer, size_t capacity);
int cnbd_nl_disconnect_message(uint32_t index, int family, uint32_t sequence,
                               uint8_t *_Nullable buffer, size_t capacity);

#endif
