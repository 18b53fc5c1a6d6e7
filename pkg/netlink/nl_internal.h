/* Private to pkg/netlink: the request/reply exchange. */
#ifndef CNI_NL_INTERNAL_H
#define CNI_NL_INTERNAL_H

#include <linux/netlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "cni/common.h"

#define CNL_RECV_BUF 65536

static inline void cnl_msg_freep(struct nl_msg **m) { if (*m) nlmsg_free(*m); }
#define _cleanup_msg_ _cleanup_(cnl_msg_freep)

/* A message with a family header (ifinfomsg, ifaddrmsg, rtmsg...). */
struct nl_msg *cnl_msg(int type, int flags, const void *hdr, size_t hdrlen);

/* Called for every reply message of the request; < 0 stops the callbacks
 * (replies are still drained) and becomes the result. */
typedef int (*cnl_reply_fn)(const struct nlmsghdr *h, void *arg);

/* Send msg, read its replies up to the ACK/DONE. Returns 0 or -errno;
 * -EINTR when a dump was interrupted (NLM_F_DUMP_INTR: retry it). ktext
 * receives the kernel's extended-ack message, if any. */
int cnl_talk(struct nl_sock *sk, struct nl_msg *msg, cnl_reply_fn fn, void *arg, char *ktext, size_t ktext_len);

/* cnl_talk that fills err with "<what>: <strerror>[: <kernel text>]";
 * EEXIST → CNI_ERR_EXISTS, ENODEV/ESRCH/EADDRNOTAVAIL → CNI_ERR_NOT_FOUND,
 * anything else CNI_ERR_NETLINK. */
int cnl_do(struct nl_sock *sk, struct nl_msg *msg, cnl_reply_fn fn, void *arg, struct cni_error *err,
	   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#define CNL_OOM(err) cni_errorf((err), CNI_ERR_INTERNAL, "out of memory")

#endif
