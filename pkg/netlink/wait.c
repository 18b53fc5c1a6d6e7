/* Bounded waits for kernel state, driven by rtnetlink notifications.
 *
 * Pattern: subscribe first (a separate socket bound to the multicast
 * group), then look at the state; if it is not there yet, sleep in poll()
 * on the subscription until a notification arrives or the deadline
 * passes, and look again. Nothing sleeps a fixed time, and a transition
 * between the look and the poll cannot be missed. */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cni/netlink.h"

#define CNL_OPER_UP 6 /* IF_OPER_UP of linux/if.h, which clashes with net/if.h */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int subscribe(unsigned groups, struct cni_error *err)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0)
		return cni_errorf_errno(err, CNI_ERR_NETLINK, errno, "failed to open netlink socket");
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return cni_errorf_errno(err, CNI_ERR_NETLINK, e, "failed to subscribe to netlink notifications");
	}
	return fd;
}

/* Sleep until something arrives on fd or the deadline; drain it. 1 = woke
 * up (look again), 0 = deadline passed. */
static int wait_event(int fd, long long deadline)
{
	long long left = deadline - now_ms();
	if (left <= 0)
		return 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, (int)left);
	if (r <= 0)
		return r < 0 && errno == EINTR ? 1 : 0;
	char buf[8192];
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
		;
	return 1;
}

int cnl_wait_ipv6_settled(struct nl_sock *sk, int ifindex, int timeout_ms, struct cni_error *err)
{
	_cleanup_close_ int fd = subscribe(RTMGRP_IPV6_IFADDR, err);
	if (fd < 0)
		return -1;
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		_cleanup_free_ struct cnl_addr *a = NULL;
		size_t n = 0;
		if (cnl_addr_list_ex(sk, ifindex, AF_INET6, &a, &n, err) < 0)
			return -1;
		bool tentative = false;
		for (size_t i = 0; i < n; i++) {
			char b[CNI_CIDR_STRLEN];
			if (a[i].flags & IFA_F_DADFAILED)
				return cni_errorf(err, CNI_ERR_NETLINK, "link %d has address %s in DADFAILED state",
						  ifindex, cni_cidr_fmt(&a[i].cidr, b));
			if (a[i].flags & IFA_F_TENTATIVE)
				tentative = true;
		}
		if (!tentative)
			return 0;
		if (!wait_event(fd, deadline))
			return cni_errorf(err, CNI_ERR_NETLINK,
					  "link %d still has tentative IPv6 addresses after %d ms", ifindex, timeout_ms);
	}
}

static const char *port_state_name(int s)
{
	switch (s) {
	case BR_STATE_DISABLED: return "disabled";
	case BR_STATE_LISTENING: return "listening";
	case BR_STATE_LEARNING: return "learning";
	case BR_STATE_FORWARDING: return "forwarding";
	case BR_STATE_BLOCKING: return "blocking";
	default: return "unknown";
	}
}

static const char *oper_name(int s)
{
	static const char *const names[] = { "unknown", "notpresent", "down", "lowerlayerdown",
					     "testing", "dormant", "up" };
	return s >= 0 && s < (int)ARRAY_SIZE(names) ? names[s] : "unknown";
}

/* Notifications about ifindex: 1 = a full (AF_UNSPEC) RTM_NEWLINK of it
 * was decoded into *l (the last one wins), 0 = none, -1 = overrun (the
 * socket lost messages: look with a query). */
static int drain_link_events(int fd, int ifindex, struct cnl_link *l)
{
	char buf[16384] __attribute__((aligned(4)));
	int found = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == ENOBUFS ? -1 : found;
		}
		if (n == 0)
			return found;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			const struct ifinfomsg *ifi = NLMSG_DATA(h);
			if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)) ||
			    ifi->ifi_family != AF_UNSPEC || ifi->ifi_index != ifindex)
				continue;
			if (cnl_link_from_msg(h, l) == 0)
				found = 1;
		}
	}
}

int cnl_link_watch_open(struct cni_error *err)
{
	return subscribe(RTMGRP_LINK, err);
}

static bool port_ready(const struct cnl_link *l)
{
	return l->operstate == CNL_OPER_UP && (l->brport_state < 0 || l->brport_state != BR_STATE_DISABLED);
}

int cnl_wait_bridge_port_watch(struct nl_sock *sk, int watch_fd, int ifindex, int timeout_ms, struct cnl_link *out,
			       struct cni_error *err)
{
	long long deadline = now_ms() + timeout_ms;
	/* Subscribed before the UP that starts it all, so no query is needed:
	 * the link notifications carry the whole link, port state included.
	 * Once the carrier is on, the container's IPv6 start-up (RS, MLD
	 * reports, flooded to every port) runs in a kernel worker holding
	 * RTNL; a query now would queue behind it, reading what the kernel
	 * sends us does not. A query only when the socket overran, and for
	 * the last look at the deadline. */
	struct cnl_link l;
	memset(&l, 0, sizeof(l));
	l.brport_state = BR_STATE_DISABLED;
	bool timed_out = false;
	for (;;) {
		if (l.ifindex == ifindex && port_ready(&l)) {
			*out = l;
			return 0;
		}
		if (timed_out) {
			if (l.operstate != CNL_OPER_UP)
				return cni_errorf(err, CNI_ERR_NETLINK, "bridge port in error state: %s",
						  oper_name(l.operstate));
			return cni_errorf(err, CNI_ERR_NETLINK, "bridge port in error state: %s",
					  port_state_name(l.brport_state));
		}
		long long left = deadline - now_ms();
		struct pollfd p = { .fd = watch_fd, .events = POLLIN };
		int r = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		timed_out = r <= 0;
		int got = r > 0 ? drain_link_events(watch_fd, ifindex, &l) : 0;
		if ((got < 0 || timed_out) && cnl_link_query(sk, NULL, ifindex, &l, err) < 0)
			return -1;
	}
}
