/* Sockets and the request/reply exchange shared by the netlink files.
 *
 * Messages are built with libnl's nlmsg/nla helpers and exchanged on the
 * libnl socket's fd directly: one send, then replies read until the ACK
 * (or NLMSG_DONE for a dump). Every reply of a request is consumed before
 * returning, so libnl's own calls on the same socket stay in sync. */
#include <errno.h>
#include <linux/netlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cni/netlink.h"
#include "cni/netns.h"
#include "nl_internal.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

static int last_errno;

int cnl_last_errno(void)
{
	return last_errno;
}

struct nl_sock *cnl_open(struct cni_error *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk) {
		cni_errorf(err, CNI_ERR_NETLINK, "failed to allocate netlink socket");
		return NULL;
	}
	int r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		nl_socket_free(sk);
		cni_errorf(err, CNI_ERR_NETLINK, "failed to open netlink socket: %s", nl_geterror(r));
		return NULL;
	}
	int fd = nl_socket_get_fd(sk), one = 1;
	/* Kernel error texts, short ACKs, and dumps filtered in the kernel
	 * (per-link address/route listings). Old kernels lack some: ignore. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	return sk;
}

struct nl_sock *cnl_open_netns(int nsfd, struct cni_error *err)
{
	int saved;
	if (netns_enter(nsfd, &saved, err) < 0)
		return NULL;
	struct nl_sock *sk = cnl_open(err);
	if (netns_leave(saved, err) < 0) {
		if (sk)
			cnl_close(sk);
		return NULL;
	}
	return sk;
}

void cnl_close(struct nl_sock *sk)
{
	nl_socket_free(sk);
}

struct nl_msg *cnl_msg(int type, int flags, const void *hdr, size_t hdrlen)
{
	struct nl_msg *m = nlmsg_alloc_simple(type, flags);
	if (!m)
		return NULL;
	if (hdr && nlmsg_append(m, (void *)hdr, hdrlen, NLMSG_ALIGNTO) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

/* Text of an extended ACK, if the kernel sent one. */
static void ext_ack_text(const struct nlmsghdr *h, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	const struct nlmsgerr *e = NLMSG_DATA(h);
	size_t off = NLMSG_HDRLEN + sizeof(*e);
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	if (off >= h->nlmsg_len)
		return;
	const struct nlattr *a = (const struct nlattr *)((const char *)h + NLMSG_ALIGN(off));
	int rem = (int)h->nlmsg_len - (int)NLMSG_ALIGN(off);
	for (; rem >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= rem;
	     rem -= NLA_ALIGN(a->nla_len), a = (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len))) {
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
			snprintf(buf, len, "%.*s", (int)(a->nla_len - sizeof(*a)), (const char *)(a + 1));
			return;
		}
	}
}

int cnl_talk(struct nl_sock *sk, struct nl_msg *msg, cnl_reply_fn fn, void *arg, char *ktext, size_t ktext_len)
{
	int fd = nl_socket_get_fd(sk);
	struct nlmsghdr *h = nlmsg_hdr(msg);
	bool dump = (h->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	unsigned seq = nl_socket_use_seq(sk);
	h->nlmsg_seq = seq;
	h->nlmsg_pid = 0;
	h->nlmsg_flags |= NLM_F_REQUEST | (dump ? 0 : NLM_F_ACK);
	if (ktext && ktext_len)
		ktext[0] = '\0';

	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	ssize_t s;
	do
		s = sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa));
	while (s < 0 && errno == EINTR);
	if (s < 0)
		return last_errno = errno, -errno;

	_cleanup_free_ char *buf = malloc(CNL_RECV_BUF);
	if (!buf)
		return last_errno = ENOMEM, -ENOMEM;
	int result = 0, cb_err = 0;
	bool interrupted = false;
	for (;;) {
		ssize_t n;
		do
			n = recv(fd, buf, CNL_RECV_BUF, 0);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno == ENOBUFS) /* notifications overflowed; our replies follow */
				continue;
			return last_errno = errno, -errno;
		}
		for (struct nlmsghdr *r = (struct nlmsghdr *)buf; NLMSG_OK(r, (unsigned)n); r = NLMSG_NEXT(r, n)) {
			if (r->nlmsg_seq != seq || r->nlmsg_pid != nl_socket_get_local_port(sk))
				continue; /* a notification or a stale reply */
			if (r->nlmsg_flags & NLM_F_DUMP_INTR)
				interrupted = true;
			if (r->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(r);
				result = e->error;
				if (result < 0 && ktext && ktext_len)
					ext_ack_text(r, ktext, ktext_len);
				goto done;
			}
			if (r->nlmsg_type == NLMSG_DONE) {
				if (r->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
					result = *(int *)NLMSG_DATA(r);
				if (result < 0 && ktext && ktext_len)
					ext_ack_text(r, ktext, ktext_len);
				goto done;
			}
			if (r->nlmsg_type == NLMSG_NOOP || r->nlmsg_type == NLMSG_OVERRUN)
				continue;
			if (fn && !cb_err) {
				int cr = fn(r, arg);
				if (cr < 0)
					cb_err = cr;
			}
		}
	}
done:
	if (result < 0)
		return last_errno = -result, result;
	if (cb_err < 0)
		return last_errno = -cb_err, cb_err;
	if (interrupted)
		return last_errno = EINTR, -EINTR;
	return 0;
}

int cnl_do(struct nl_sock *sk, struct nl_msg *msg, cnl_reply_fn fn, void *arg, struct cni_error *err,
	   const char *fmt, ...)
{
	char ktext[256];
	int r = cnl_talk(sk, msg, fn, arg, ktext, sizeof(ktext));
	if (r >= 0)
		return 0;
	if (!err)
		return -1;
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	unsigned code = CNI_ERR_NETLINK;
	if (r == -EEXIST)
		code = CNI_ERR_EXISTS;
	else if (r == -ENODEV || r == -ESRCH || r == -EADDRNOTAVAIL)
		code = CNI_ERR_NOT_FOUND;
	return cni_errorf(err, code, "%s: %s%s%s", what, strerror(-r), ktext[0] ? ": " : "", ktext);
}
