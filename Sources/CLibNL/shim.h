// libnl-genl-3 as a system library: pkg-config (libnl-genl-3.0) supplies the include path and the link
// flags, so no target needs unsafe build flags. Only CNBD's netlink.c uses it; Swift never does.
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
