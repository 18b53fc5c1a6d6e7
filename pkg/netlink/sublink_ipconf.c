/* Applying an IPAM result to a container interface and checking it again
 * (the reference's ipam.ConfigureIface, ip.ValidateExpectedInterfaceIPs and
 * ip.ValidateExpectedRoute). Runs in the container netns: sysctls under
 * /proc/sys/net belong to the namespace of the process. */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cni/sublink.h"
#include "sublink_priv.h"

static int put_ip(struct nl_msg *m, int type, const struct cni_ip *ip)
{
	return nla_put(m, type, cni_ip_len(ip), ip->b);
}

static int addr_add(struct nl_sock *sk, int ifindex, const char *ifname, const struct cni_cidr *a,
		    struct cni_error *err)
{
	struct ifaddrmsg ifa = {
		.ifa_family = (unsigned char)a->ip.family, .ifa_prefixlen = (unsigned char)a->prefix,
		.ifa_index = (unsigned)ifindex,
	};
	struct nl_msg *m = sl_msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof(ifa));
	if (!m)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	int bad = put_ip(m, IFA_LOCAL, &a->ip) < 0 || put_ip(m, IFA_ADDRESS, &a->ip) < 0;
	if (a->ip.family == AF_INET && a->prefix < 31) {
		struct cni_ip brd = cni_cidr_last(a);
		bad |= put_ip(m, IFA_BROADCAST, &brd) < 0;
	}
	if (bad) {
		nlmsg_free(m);
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	int r = sl_request(sk, m, NULL, NULL);
	nlmsg_free(m);
	if (r < 0) {
		char b[CNI_CIDR_STRLEN], what[128];
		snprintf(what, sizeof(what), "failed to add IP addr %s to \"%s\"", cni_cidr_fmt(a, b), ifname);
		return sl_kernel_error(err, r, what);
	}
	return 0;
}

/* ---- address dump with flags ---- */

struct addr_ent {
	struct cni_cidr a;
	unsigned flags;
};

struct addr_dump {
	int ifindex;
	struct addr_ent *v;
	size_t n, cap;
	bool oom;
};

static int addr_cb(struct nl_msg *msg, void *arg)
{
	struct addr_dump *d = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	if (h->nlmsg_type != RTM_NEWADDR)
		return NL_OK;
	struct ifaddrmsg *ifa = nlmsg_data(h);
	struct nlattr *tb[IFA_MAX + 1];
	if ((int)ifa->ifa_index != d->ifindex || nlmsg_parse(h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return NL_OK;
	struct nlattr *la = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	int len = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!la || nla_len(la) != len)
		return NL_OK;
	if (cni_grow((void **)&d->v, &d->cap, d->n, sizeof(*d->v)) < 0) {
		d->oom = true;
		return NL_OK;
	}
	struct addr_ent *e = &d->v[d->n++];
	memset(e, 0, sizeof(*e));
	e->a.ip.family = ifa->ifa_family;
	memcpy(e->a.ip.b, nla_data(la), (size_t)len);
	e->a.prefix = ifa->ifa_prefixlen;
	e->flags = tb[IFA_FLAGS] ? nla_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	return NL_OK;
}

static int addr_dump(struct nl_sock *sk, int ifindex, int family, struct addr_dump *d, struct cni_error *err)
{
	memset(d, 0, sizeof(*d));
	d->ifindex = ifindex;
	int r = -EINTR;
	for (int attempt = 0; attempt < 5 && r == -EINTR; attempt++) {
		struct ifaddrmsg ifa = { .ifa_family = (unsigned char)family, .ifa_index = (unsigned)ifindex };
		struct nl_msg *m = sl_msg(RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
		if (!m)
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		d->n = 0;
		r = sl_request(sk, m, addr_cb, d);
		nlmsg_free(m);
	}
	if (d->oom)
		r = -ENOMEM;
	if (r < 0) {
		free(d->v);
		d->v = NULL;
		return sl_kernel_error(err, r, "failed to list addresses");
	}
	return 0;
}

static int wait_dad(struct nl_sock *sk, int ifindex, const char *ifname, struct cni_error *err)
{
	/* poll every 50 ms, up to 5 s, as the reference */
	for (int i = 0; i < 100; i++) {
		struct addr_dump d;
		if (addr_dump(sk, ifindex, AF_INET6, &d, err) < 0)
			return -1;
		bool tentative = false;
		for (size_t k = 0; k < d.n; k++) {
			if (d.v[k].flags & IFA_F_DADFAILED) {
				char b[CNI_CIDR_STRLEN];
				cni_cidr_fmt(&d.v[k].a, b);
				free(d.v);
				return cni_errorf(err, CNI_ERR_NETLINK, "DAD failed for address %s on \"%s\"", b, ifname);
			}
			if (d.v[k].flags & IFA_F_TENTATIVE)
				tentative = true;
		}
		free(d.v);
		if (!tentative)
			return 0;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return cni_errorf(err, CNI_ERR_NETLINK, "IPv6 addresses on \"%s\" still tentative after 5s", ifname);
}

static int route_add(struct nl_sock *sk, int ifindex, const char *ifname, const struct cni_route *rt,
		     const struct cni_ip *gw, struct cni_error *err)
{
	int table = rt->table_set ? rt->table : RT_TABLE_MAIN;
	struct rtmsg rtm = {
		.rtm_family = (unsigned char)rt->dst.ip.family, .rtm_dst_len = (unsigned char)rt->dst.prefix,
		.rtm_table = (unsigned char)(table < 256 ? table : RT_TABLE_UNSPEC), .rtm_protocol = RTPROT_BOOT,
		.rtm_scope = (unsigned char)(rt->scope_set ? rt->scope : RT_SCOPE_UNIVERSE), .rtm_type = RTN_UNICAST,
	};
	struct nl_msg *m = sl_msg(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_APPEND, &rtm, sizeof(rtm));
	if (!m)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	struct cni_cidr net = cni_cidr_network(&rt->dst);
	int bad = put_ip(m, RTA_DST, &net.ip) < 0 || nla_put_u32(m, RTA_OIF, (uint32_t)ifindex) < 0 ||
		  nla_put_u32(m, RTA_TABLE, (uint32_t)table) < 0;
	if (gw && cni_ip_is_set(gw))
		bad |= put_ip(m, RTA_GATEWAY, gw) < 0;
	if (rt->priority_set)
		bad |= nla_put_u32(m, RTA_PRIORITY, (uint32_t)rt->priority) < 0;
	if (bad) {
		nlmsg_free(m);
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	int r = sl_request(sk, m, NULL, NULL);
	nlmsg_free(m);
	if (r < 0) {
		char b[CNI_CIDR_STRLEN], g[CNI_IP_STRLEN] = "<nil>", what[160];
		if (gw && cni_ip_is_set(gw))
			cni_ip_fmt(gw, g);
		snprintf(what, sizeof(what), "failed to add route '%s via %s dev %s'", cni_cidr_fmt(&rt->dst, b), g,
			 ifname);
		return sl_kernel_error(err, r, what);
	}
	return 0;
}

static bool ip_for_iface(const struct cni_result *r, size_t i, const char *ifname)
{
	int idx = r->ips[i].interface;
	return idx < 0 || ((size_t)idx < r->n_interfaces && !strcmp(r->interfaces[idx].name, ifname));
}

int sublink_configure_iface(struct nl_sock *sk, int ifindex, const char *ifname, const struct cni_result *r,
			    struct cni_error *err)
{
	if (r->n_interfaces == 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "no interfaces to configure");
	char path[128];
	bool v6_enabled = false;
	const struct cni_ip *gw4 = NULL, *gw6 = NULL;
	for (size_t i = 0; i < r->n_ips; i++) {
		const struct cni_ipconfig *ipc = &r->ips[i];
		if (ipc->interface >= 0 &&
		    ((size_t)ipc->interface >= r->n_interfaces || strcmp(r->interfaces[ipc->interface].name, ifname)))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "failed to add IP addr to \"%s\": invalid interface index %d",
					  ifname, ipc->interface);
		if (ipc->address.ip.family == AF_INET6 && !v6_enabled) {
			/* IPv6 may be disabled in a fresh namespace; the kernel
			 * refuses addresses then */
			if (sublink_sysctl_set("net/ipv6/conf/lo/disable_ipv6", "0", err) < 0 ||
			    (snprintf(path, sizeof(path), "net/ipv6/conf/%s/disable_ipv6", ifname),
			     sublink_sysctl_set(path, "0", err) < 0))
				return -1;
			snprintf(path, sizeof(path), "net/ipv6/conf/%s/keep_addr_on_down", ifname);
			struct cni_error ignored = { 0 };
			sublink_sysctl_set(path, "1", &ignored);
			v6_enabled = true;
		}
		if (addr_add(sk, ifindex, ifname, &ipc->address, err) < 0)
			return -1;
		if (cni_ip_is_set(&ipc->gateway)) {
			if (ipc->gateway.family == AF_INET && !gw4)
				gw4 = &ipc->gateway;
			if (ipc->gateway.family == AF_INET6 && !gw6)
				gw6 = &ipc->gateway;
		}
	}
	struct sublink_change up = SUBLINK_CHANGE_INIT;
	up.up = 1;
	if (sublink_change(sk, ifindex, &up, err) < 0)
		return cni_error_wrap(err, "failed to set \"%s\" UP", ifname);
	if (gw6 && wait_dad(sk, ifindex, ifname, err) < 0)
		return -1;
	for (size_t i = 0; i < r->n_routes; i++) {
		const struct cni_route *rt = &r->routes[i];
		const struct cni_ip *gw = &rt->gw;
		if (!cni_ip_is_set(gw))
			gw = rt->dst.ip.family == AF_INET ? gw4 : gw6;
		if (route_add(sk, ifindex, ifname, rt, gw, err) < 0)
			return -1;
	}
	return 0;
}

int sublink_check_addresses(struct nl_sock *sk, int ifindex, const char *ifname, const struct cni_result *r,
			    int iface, struct cni_error *err)
{
	struct addr_dump d;
	if (addr_dump(sk, ifindex, AF_UNSPEC, &d, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < r->n_ips && rc == 0; i++) {
		if (r->ips[i].interface >= 0 && r->ips[i].interface != iface)
			continue;
		if (!ip_for_iface(r, i, ifname))
			continue;
		bool found = false;
		for (size_t k = 0; k < d.n && !found; k++)
			found = cni_ip_eq(&d.v[k].a.ip, &r->ips[i].address.ip) &&
				d.v[k].a.prefix == r->ips[i].address.prefix;
		if (!found) {
			char b[CNI_CIDR_STRLEN];
			rc = cni_errorf(err, CNI_ERR_CHECK_FAILED, "interface \"%s\" does not have the expected address %s",
					ifname, cni_cidr_fmt(&r->ips[i].address, b));
		}
	}
	free(d.v);
	return rc;
}

/* ---- route check ---- */

struct route_ent {
	struct cni_cidr dst;
	struct cni_ip gw[8];
	int n_gw;
};

struct route_dump {
	struct route_ent *v;
	size_t n, cap;
	bool oom;
};

static void ip_from_attr(struct cni_ip *ip, int family, struct nlattr *a)
{
	int len = family == AF_INET ? 4 : 16;
	if (nla_len(a) != len)
		return;
	ip->family = family;
	memcpy(ip->b, nla_data(a), (size_t)len);
}

static int route_cb(struct nl_msg *msg, void *arg)
{
	struct route_dump *d = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	if (h->nlmsg_type != RTM_NEWROUTE)
		return NL_OK;
	struct rtmsg *rt = nlmsg_data(h);
	struct nlattr *tb[RTA_MAX + 1];
	if (nlmsg_parse(h, sizeof(*rt), tb, RTA_MAX, NULL) < 0)
		return NL_OK;
	if (cni_grow((void **)&d->v, &d->cap, d->n, sizeof(*d->v)) < 0) {
		d->oom = true;
		return NL_OK;
	}
	struct route_ent *e = &d->v[d->n++];
	memset(e, 0, sizeof(*e));
	e->dst.ip.family = rt->rtm_family;
	e->dst.prefix = rt->rtm_dst_len;
	if (tb[RTA_DST])
		ip_from_attr(&e->dst.ip, rt->rtm_family, tb[RTA_DST]);
	if (tb[RTA_GATEWAY])
		ip_from_attr(&e->gw[e->n_gw++], rt->rtm_family, tb[RTA_GATEWAY]);
	if (tb[RTA_MULTIPATH]) {
		struct rtnexthop *nh = nla_data(tb[RTA_MULTIPATH]);
		int rem = nla_len(tb[RTA_MULTIPATH]);
		while (rem >= (int)sizeof(*nh) && nh->rtnh_len <= rem && nh->rtnh_len >= sizeof(*nh) && e->n_gw < 8) {
			struct nlattr *nt[RTA_MAX + 1];
			if (nla_parse(nt, RTA_MAX, (struct nlattr *)RTNH_DATA(nh), nh->rtnh_len - (int)sizeof(*nh), NULL) ==
				    0 &&
			    nt[RTA_GATEWAY])
				ip_from_attr(&e->gw[e->n_gw++], rt->rtm_family, nt[RTA_GATEWAY]);
			rem -= RTNH_ALIGN(nh->rtnh_len);
			nh = RTNH_NEXT(nh);
		}
	}
	return NL_OK;
}

int sublink_check_routes(struct nl_sock *sk, const struct cni_result *r, struct cni_error *err)
{
	if (r->n_routes == 0)
		return 0;
	struct route_dump d = { 0 };
	static const int families[] = { AF_INET, AF_INET6 };
	for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
		int rc = -EINTR;
		size_t keep = d.n;
		for (int attempt = 0; attempt < 5 && rc == -EINTR; attempt++) {
			struct rtmsg rtm = { .rtm_family = (unsigned char)families[f] };
			struct nl_msg *m = sl_msg(RTM_GETROUTE, NLM_F_DUMP, &rtm, sizeof(rtm));
			if (!m) {
				free(d.v);
				return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			}
			d.n = keep;
			rc = sl_request(sk, m, route_cb, &d);
			nlmsg_free(m);
		}
		if (d.oom)
			rc = -ENOMEM;
		if (rc < 0) {
			free(d.v);
			return sl_kernel_error(err, rc, "failed to list routes");
		}
	}
	int rc = 0;
	for (size_t i = 0; i < r->n_routes && rc == 0; i++) {
		const struct cni_route *want = &r->routes[i];
		struct cni_cidr wnet = cni_cidr_network(&want->dst);
		bool found = false;
		for (size_t k = 0; k < d.n && !found; k++) {
			const struct route_ent *e = &d.v[k];
			if (e->dst.prefix != wnet.prefix || !cni_ip_eq(&e->dst.ip, &wnet.ip)) {
				/* a default route has no RTA_DST */
				if (!(e->dst.prefix == 0 && wnet.prefix == 0 && e->dst.ip.family == wnet.ip.family))
					continue;
			}
			if (!cni_ip_is_set(&want->gw)) {
				found = true;
				break;
			}
			for (int g = 0; g < e->n_gw && !found; g++)
				found = cni_ip_eq(&e->gw[g], &want->gw);
		}
		if (!found) {
			char b[CNI_CIDR_STRLEN], g[CNI_IP_STRLEN] = "<nil>";
			if (cni_ip_is_set(&want->gw))
				cni_ip_fmt(&want->gw, g);
			rc = cni_errorf(err, CNI_ERR_CHECK_FAILED, "route (dst %s, gw %s) not found in the container",
					cni_cidr_fmt(&want->dst, b), g);
		}
	}
	free(d.v);
	return rc;
}
