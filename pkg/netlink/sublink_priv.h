/* Raw rtnetlink request helpers shared by sublink.c and sublink_ipconf.c. */
#ifndef CNI_SUBLINK_PRIV_H
#define CNI_SUBLINK_PRIV_H

#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "cni/common.h"

/* Send msg on sk and read replies until the ack / end of dump; valid gets
 * each reply (may be NULL). 0 or a negative errno (from the kernel when it
 * answered with one). */
int sl_request(struct nl_sock *sk, struct nl_msg *msg, nl_recvmsg_msg_cb_t valid, void *arg);
/* A new message with a fixed header of hdrlen bytes; NULL on OOM. */
struct nl_msg *sl_msg(int type, int flags, const void *hdr, size_t hdrlen);
/* Error from a negative errno: EEXIST -> 106, ENODEV -> 110, else 102. */
int sl_kernel_error(struct cni_error *err, int kerr, const char *what);

#endif
