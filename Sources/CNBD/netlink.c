#include "cnbd_netlink.h"
#include <errno.h>
#include <string.h>
#include <linux/nbd-netlink.h>
#include <netlink/netlink.h>
#include <netlink/errno.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

// What one request learned from the kernel's replies.
struct reply {
    int kernel_error;              // NLMSG_ERROR's -errno, 0 if none
    int64_t index;                 // CONNECT: NBD_ATTR_INDEX
    struct cnbd_nl_device_status *devices;
    int capacity;
    int device_count;              // STATUS: entries the kernel listed
};

// libnl reports its own NLE_* codes; turn the usual ones back into errno values.
static int errno_from_nle(int nle) {
    switch (-nle) {
    case 0: return 0;
    case NLE_NOMEM: return -ENOMEM;
    case NLE_PERM: return -EPERM;
    case NLE_BUSY: return -EBUSY;
    case NLE_INVAL: case NLE_RANGE: case NLE_MSGSIZE: return -EINVAL;
    case NLE_AGAIN: return -EAGAIN;
    case NLE_OBJ_NOTFOUND: return -ENOENT;
    case NLE_NOACCESS: return -EACCES;
    case NLE_OPNOTSUPP: return -EOPNOTSUPP;
    case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
    default: return -EIO;
    }
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *error, void *argument) {
    (void)who;
    ((struct reply *)argument)->kernel_error = error->error;
    return NL_STOP;
}

static void read_device_list(struct nlattr *list, struct reply *reply) {
    struct nlattr *item;
    int remaining;
    nla_for_each_nested(item, list, remaining) {
        struct nlattr *fields[NBD_DEVICE_ATTR_MAX + 1];
        if (nla_type(item) != NBD_DEVICE_ITEM ||
            nla_parse_nested(fields, NBD_DEVICE_ATTR_MAX, item, NULL) < 0 || !fields[NBD_DEVICE_INDEX])
            continue;
        if (reply->device_count < reply->capacity && reply->devices) {
            struct cnbd_nl_device_status *out = &reply->devices[reply->device_count];
            out->index = nla_get_u32(fields[NBD_DEVICE_INDEX]);
            out->connected = fields[NBD_DEVICE_CONNECTED] ? nla_get_u8(fields[NBD_DEVICE_CONNECTED]) : 0;
        }
        reply->device_count++;
    }
}

static int on_valid(struct nl_msg *message, void *argument) {
    struct reply *reply = argument;
    struct nlattr *attributes[NBD_ATTR_MAX + 1];
    if (genlmsg_parse(nlmsg_hdr(message), 0, attributes, NBD_ATTR_MAX, NULL) < 0) return NL_SKIP;
    if (attributes[NBD_ATTR_INDEX]) reply->index = nla_get_u32(attributes[NBD_ATTR_INDEX]);
    if (attributes[NBD_ATTR_DEVICE_LIST]) read_device_list(attributes[NBD_ATTR_DEVICE_LIST], reply);
    return NL_OK;
}

static int open_socket(struct nl_sock **out, int *family) {
    struct nl_sock *sock = nl_socket_alloc();
    if (!sock) return -ENOMEM;
    int result = genl_connect(sock);
    if (result < 0) { nl_socket_free(sock); return errno_from_nle(result); }
    *family = genl_ctrl_resolve(sock, "nbd");
    if (*family < 0) {
        result = *family == -NLE_OBJ_NOTFOUND ? CNBD_NL_NO_FAMILY : errno_from_nle(*family);
        nl_socket_free(sock);
        return result;
    }
    *out = sock;
    return 0;
}

int cnbd_nl_resolve_family(void) {
    struct nl_sock *sock;
    int family;
    int result = open_socket(&sock, &family);
    if (result < 0) return result;
    nl_socket_free(sock);
    return family;
}

static struct nl_msg *new_message(int family, uint32_t sequence, uint8_t command) {
    struct nl_msg *message = nlmsg_alloc();
    if (!message) return NULL;
    if (!genlmsg_put(message, NL_AUTO_PORT, sequence, family, 0, NLM_F_REQUEST | NLM_F_ACK, command, NBD_GENL_VERSION)) {
        nlmsg_free(message);
        return NULL;
    }
    return message;
}

static struct nl_msg *connect_message(const struct cnbd_nl_connect_request *request, int family, uint32_t sequence) {
    struct nl_msg *message = new_message(family, sequence, NBD_CMD_CONNECT);
    if (!message) return NULL;
    if (request->index >= 0) NLA_PUT_U32(message, NBD_ATTR_INDEX, (uint32_t)request->index);
    NLA_PUT_U64(message, NBD_ATTR_SIZE_BYTES, request->size_bytes);
    if (request->block_size_bytes) NLA_PUT_U64(message, NBD_ATTR_BLOCK_SIZE_BYTES, request->block_size_bytes);
    NLA_PUT_U64(message, NBD_ATTR_SERVER_FLAGS, request->server_flags);
    if (request->timeout_seconds) NLA_PUT_U64(message, NBD_ATTR_TIMEOUT, request->timeout_seconds);
    if (request->client_flags) NLA_PUT_U64(message, NBD_ATTR_CLIENT_FLAGS, request->client_flags);
    if (request->backend_identifier) NLA_PUT_STRING(message, NBD_ATTR_BACKEND_IDENTIFIER, request->backend_identifier);
    struct nlattr *sockets = nla_nest_start(message, NBD_ATTR_SOCKETS);
    if (!sockets) goto nla_put_failure;
    for (unsigned int i = 0; i < request->socket_count; i++) {
        struct nlattr *item = nla_nest_start(message, NBD_SOCK_ITEM);
        if (!item) goto nla_put_failure;
        NLA_PUT_U32(message, NBD_SOCK_FD, (uint32_t)request->sockets[i]);
        nla_nest_end(message, item);
    }
    nla_nest_end(message, sockets);
    return message;
nla_put_failure:
    nlmsg_free(message);
    return NULL;
}

static struct nl_msg *index_message(uint8_t command, uint32_t index, int family, uint32_t sequence) {
    struct nl_msg *message = new_message(family, sequence, command);
    if (!message) return NULL;
    NLA_PUT_U32(message, NBD_ATTR_INDEX, index);
    return message;
nla_put_failure:
    nlmsg_free(message);
    return NULL;
}

static int copy_out(struct nl_msg *message, uint8_t *buffer, size_t capacity) {
    if (!message) return -ENOMEM;
    struct nlmsghdr *header = nlmsg_hdr(message);
    int length = (int)header->nlmsg_len;
    if (buffer) memcpy(buffer, header, (size_t)length < capacity ? (size_t)length : capacity);
    nlmsg_free(message);
    return length;
}

int cnbd_nl_connect_message(const struct cnbd_nl_connect_request *request, int family, uint32_t sequence,
                            uint8_t *buffer, size_t capacity) {
    return copy_out(connect_message(request, family, sequence), buffer, capacity);
}

int cnbd_nl_disconnect_message(uint32_t index, int family, uint32_t sequence, uint8_t *buffer, size_t capacity) {
    return copy_out(index_message(NBD_CMD_DISCONNECT, index, family, sequence), buffer, capacity);
}

// Sends one request built for `family` and waits for its ACK, collecting replies on the way.
static int exchange(struct nl_sock *sock, struct nl_msg *message, struct reply *reply) {
    if (!message) return -ENOMEM;
    nl_socket_modify_cb(sock, NL_CB_VALID, NL_CB_CUSTOM, on_valid, reply);
    nl_socket_modify_err_cb(sock, NL_CB_CUSTOM, on_error, reply);
    int result = nl_send_auto(sock, message);
    nlmsg_free(message);
    if (result >= 0) result = nl_wait_for_ack(sock);
    if (reply->kernel_error) return reply->kernel_error;
    return result < 0 ? errno_from_nle(result) : 0;
}

int cnbd_nl_connect(const struct cnbd_nl_connect_request *request) {
    struct nl_sock *sock;
    int family;
    int result = open_socket(&sock, &family);
    if (result < 0) return result;
    struct reply reply = {.index = -1};
    result = exchange(sock, connect_message(request, family, NL_AUTO_SEQ), &reply);
    nl_socket_free(sock);
    if (result < 0) return result;
    return reply.index >= 0 ? (int)reply.index : -EPROTO;
}

int cnbd_nl_disconnect(uint32_t index) {
    struct nl_sock *sock;
    int family;
    int result = open_socket(&sock, &family);
    if (result < 0) return result;
    struct reply reply = {.index = -1};
    result = exchange(sock, index_message(NBD_CMD_DISCONNECT, index, family, NL_AUTO_SEQ), &reply);
    nl_socket_free(sock);
    return result;
}

int cnbd_nl_status(struct cnbd_nl_device_status *devices, int capacity) {
    struct nl_sock *sock;
    int family;
    int result = open_socket(&sock, &family);
    if (result < 0) return result;
    struct reply reply = {.index = -1, .devices = devices, .capacity = capacity};
    result = exchange(sock, new_message(family, NL_AUTO_SEQ, NBD_CMD_STATUS), &reply);
    nl_socket_free(sock);
    return result < 0 ? result : reply.device_count;
}
