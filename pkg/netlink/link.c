/* Links: lookup by name/index, changes, veth pairs, bridges, bridge ports. */
#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netconf.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/attr.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "cni/netlink.h"
#include "nl_internal.h"

/* ---- libnl object lookups (loopback and other simple callers) ---- */

static int link_get(struct nl_sock *sk, int ifindex, const char *name, struct rtnl_link **out,
		    struct cni_error *err)
{
	*out = NULL;
	int r = rtnl_link_get_kernel(sk, ifindex, name, out);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV) {
		if (name)
			return cni_errorf(err, CNI_ERR_NOT_FOUND, "link \"%s\" not found", name);
		return cni_errorf(err, CNI_ERR_NOT_FOUND, "link with index %d not found", ifindex);
	}
	if (r < 0)
		return cni_errorf(err, CNI_ERR_NETLINK, "failed to look up link \"%s\": %s", name ? name : "?",
				  nl_geterror(r));
	return 0;
}

int cnl_link_get(struct nl_sock *sk, const char *name, struct rtnl_link **out, struct cni_error *err)
{
	return link_get(sk, 0, name, out, err);
}

int cnl_link_get_index(struct nl_sock *sk, int ifindex, struct rtnl_link **out, struct cni_error *err)
{
	return link_get(sk, ifindex, NULL, out, err);
}

/* ---- snapshots ---- */

static void copy_str(char *dst, size_t len, const struct nlattr *a)
{
	if (!a)
		return;
	snprintf(dst, len, "%.*s", (int)nla_len(a), (const char *)nla_data(a));
}

/* IFLA_INFO_DATA of the link kinds the link plugins create and check. */
static void parse_kind_data(struct cnl_link *l, struct nlattr *data)
{
	if (!strcmp(l->kind, "macvlan") || !strcmp(l->kind, "macvtap")) {
		struct nlattr *d[IFLA_MACVLAN_MAX + 1];
		if (nla_parse_nested(d, IFLA_MACVLAN_MAX, data, NULL) == 0 && d[IFLA_MACVLAN_MODE])
			l->macvlan_mode = nla_get_u32(d[IFLA_MACVLAN_MODE]);
	} else if (!strcmp(l->kind, "ipvlan")) {
		struct nlattr *d[IFLA_IPVLAN_MAX + 1];
		if (nla_parse_nested(d, IFLA_IPVLAN_MAX, data, NULL) == 0) {
			if (d[IFLA_IPVLAN_MODE])
				l->ipvlan_mode = nla_get_u16(d[IFLA_IPVLAN_MODE]);
			if (d[IFLA_IPVLAN_FLAGS])
				l->ipvlan_flags = nla_get_u16(d[IFLA_IPVLAN_FLAGS]);
		}
	} else if (!strcmp(l->kind, "vlan")) {
		struct nlattr *d[IFLA_VLAN_MAX + 1];
		if (nla_parse_nested(d, IFLA_VLAN_MAX, data, NULL) == 0 && d[IFLA_VLAN_ID])
			l->vlan_id = nla_get_u16(d[IFLA_VLAN_ID]);
	} else if (!strcmp(l->kind, "tun")) {
		struct nlattr *d[IFLA_TUN_MAX + 1];
		if (nla_parse_nested(d, IFLA_TUN_MAX, data, NULL) == 0 && d[IFLA_TUN_TYPE])
			l->tun_type = nla_get_u8(d[IFLA_TUN_TYPE]);
	}
}

/* IFLA_INET_CONF / IFLA_INET6_CONF: arrays of 32-bit values, entry k-1
 * holding setting k (IPV4_DEVCONF_* / DEVCONF_*, IPv6's from 0). */
static int conf_at(const struct nlattr *a, int idx)
{
	if (idx < 0 || (size_t)nla_len(a) < (size_t)(idx + 1) * 4)
		return -1;
	int32_t v;
	memcpy(&v, (const char *)nla_data(a) + (size_t)idx * 4, 4);
	return v;
}

static void parse_af_spec(struct cnl_link *l, struct nlattr *spec)
{
	struct nlattr *fam;
	int rem;
	nla_for_each_nested(fam, spec, rem) {
		struct nlattr *a;
		int r2;
		if (nla_type(fam) == AF_INET) {
			nla_for_each_nested(a, fam, r2)
				if (nla_type(a) == IFLA_INET_CONF)
					l->in4_arp_notify = conf_at(a, IPV4_DEVCONF_ARP_NOTIFY - 1);
		} else if (nla_type(fam) == AF_INET6) {
			nla_for_each_nested(a, fam, r2) {
				if (nla_type(a) != IFLA_INET6_CONF)
					continue;
				l->in6_accept_ra = conf_at(a, DEVCONF_ACCEPT_RA);
				l->in6_accept_dad = conf_at(a, DEVCONF_ACCEPT_DAD);
				l->in6_disable = conf_at(a, DEVCONF_DISABLE_IPV6);
				l->in6_keep_addr_on_down = conf_at(a, DEVCONF_KEEP_ADDR_ON_DOWN);
				l->in6_ndisc_notify = conf_at(a, DEVCONF_NDISC_NOTIFY);
			}
		}
	}
}

static int parse_link(const struct nlmsghdr *h, void *arg)
{
	struct cnl_link *l = arg;
	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct nlattr *tb[IFLA_MAX + 1];
	if (nlmsg_parse((struct nlmsghdr *)h, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	l->link_netnsid = -1;
	l->brport_state = l->brport_hairpin = l->brport_isolated = l->br_vlan_filtering = -1;
	l->vlan_id = -1;
	l->in4_arp_notify = l->in6_accept_ra = l->in6_accept_dad = l->in6_disable = -1;
	l->in6_keep_addr_on_down = l->in6_ndisc_notify = -1;
	if (tb[IFLA_AF_SPEC])
		parse_af_spec(l, tb[IFLA_AF_SPEC]);
	copy_str(l->name, sizeof(l->name), tb[IFLA_IFNAME]);
	copy_str(l->alias, sizeof(l->alias), tb[IFLA_IFALIAS]);
	if (tb[IFLA_MTU])
		l->mtu = nla_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6) {
		memcpy(l->mac, nla_data(tb[IFLA_ADDRESS]), 6);
		l->has_mac = true;
	}
	if (tb[IFLA_MASTER])
		l->master = (int)nla_get_u32(tb[IFLA_MASTER]);
	if (tb[IFLA_LINK])
		l->link = (int)nla_get_u32(tb[IFLA_LINK]);
	if (tb[IFLA_LINK_NETNSID])
		l->link_netnsid = (int)nla_get_u32(tb[IFLA_LINK_NETNSID]);
	if (tb[IFLA_OPERSTATE])
		l->operstate = nla_get_u8(tb[IFLA_OPERSTATE]);
	if (tb[IFLA_PROMISCUITY])
		l->promiscuity = nla_get_u32(tb[IFLA_PROMISCUITY]);
	if (tb[IFLA_TXQLEN])
		l->txqlen = nla_get_u32(tb[IFLA_TXQLEN]);
	if (tb[IFLA_LINKINFO]) {
		struct nlattr *li[IFLA_INFO_MAX + 1];
		if (nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) == 0) {
			copy_str(l->kind, sizeof(l->kind), li[IFLA_INFO_KIND]);
			copy_str(l->slave_kind, sizeof(l->slave_kind), li[IFLA_INFO_SLAVE_KIND]);
			struct nlattr *sd[IFLA_BRPORT_MAX + 1];
			if (!strcmp(l->slave_kind, "bridge") && li[IFLA_INFO_SLAVE_DATA] &&
			    nla_parse_nested(sd, IFLA_BRPORT_MAX, li[IFLA_INFO_SLAVE_DATA], NULL) == 0) {
				if (sd[IFLA_BRPORT_STATE])
					l->brport_state = nla_get_u8(sd[IFLA_BRPORT_STATE]);
				if (sd[IFLA_BRPORT_MODE])
					l->brport_hairpin = nla_get_u8(sd[IFLA_BRPORT_MODE]);
				if (sd[IFLA_BRPORT_ISOLATED])
					l->brport_isolated = nla_get_u8(sd[IFLA_BRPORT_ISOLATED]);
			}
			struct nlattr *bd[IFLA_BR_MAX + 1];
			if (!strcmp(l->kind, "bridge") && li[IFLA_INFO_DATA] &&
			    nla_parse_nested(bd, IFLA_BR_MAX, li[IFLA_INFO_DATA], NULL) == 0 &&
			    bd[IFLA_BR_VLAN_FILTERING])
				l->br_vlan_filtering = nla_get_u8(bd[IFLA_BR_VLAN_FILTERING]);
			if (li[IFLA_INFO_DATA])
				parse_kind_data(l, li[IFLA_INFO_DATA]);
		}
	}
	return 0;
}

int cnl_link_from_msg(const struct nlmsghdr *h, struct cnl_link *out)
{
	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return -1;
	return parse_link(h, out) == 0 ? 0 : -1;
}

int cnl_link_query(struct nl_sock *sk, const char *name, int ifindex, struct cnl_link *out, struct cni_error *err)
{
	if (name && (!*name || strlen(name) >= IF_NAMESIZE))
		return cni_errorf(err, CNI_ERR_NOT_FOUND, "link \"%s\" not found", name);
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = name ? 0 : ifindex };
	_cleanup_msg_ struct nl_msg *m = cnl_msg(RTM_GETLINK, 0, &ifi, sizeof(ifi));
	if (!m || (name && nla_put_string(m, IFLA_IFNAME, name) < 0) ||
	    nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
		return CNL_OOM(err);
	memset(out, 0, sizeof(*out));
	out->ifindex = 0;
	char ktext[128];
	int r = cnl_talk(sk, m, parse_link, out, ktext, sizeof(ktext));
	if (r == -ENODEV || (r == 0 && !out->ifindex)) {
		if (name)
			return cni_errorf(err, CNI_ERR_NOT_FOUND, "link \"%s\" not found", name);
		return cni_errorf(err, CNI_ERR_NOT_FOUND, "link with index %d not found", ifindex);
	}
	if (r < 0) {
		if (name)
			return cni_errorf(err, CNI_ERR_NETLINK, "failed to look up link \"%s\": %s", name, strerror(-r));
		return cni_errorf(err, CNI_ERR_NETLINK, "failed to look up link %d: %s", ifindex, strerror(-r));
	}
	return 0;
}

struct find_ctx {
	bool (*match)(const struct cnl_link *, void *);
	void *arg;
	struct cnl_link *out;
	bool found;
};

static int find_link(const struct nlmsghdr *h, void *arg)
{
	struct find_ctx *f = arg;
	struct cnl_link l;
	if (f->found || h->nlmsg_type != RTM_NEWLINK || parse_link(h, &l) < 0)
		return 0;
	if (l.ifindex && f->match(&l, f->arg)) {
		*f->out = l;
		f->found = true;
	}
	return 0;
}

int cnl_link_find(struct nl_sock *sk, bool (*match)(const struct cnl_link *, void *), void *arg,
		  struct cnl_link *out, struct cni_error *err)
{
	struct find_ctx f = { .match = match, .arg = arg, .out = out };
	int r = -EINTR;
	for (int attempt = 0; attempt < 5 && r == -EINTR; attempt++) {
		struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
		_cleanup_msg_ struct nl_msg *m = cnl_msg(RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
		if (!m || nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
			return CNL_OOM(err);
		f.found = false;
		r = cnl_talk(sk, m, find_link, &f, NULL, 0);
	}
	if (r < 0)
		return cni_errorf(err, CNI_ERR_NETLINK, "failed to list links: %s", strerror(-r));
	if (!f.found)
		return cni_errorf(err, CNI_ERR_NOT_FOUND, "no matching link found");
	return 0;
}

/* ---- changes ---- */

static struct nl_msg *setlink_msg(int ifindex, unsigned flags, unsigned change)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = flags,
				 .ifi_change = change };
	return cnl_msg(RTM_NEWLINK, 0, &ifi, sizeof(ifi));
}

int cnl_link_set_up(struct nl_sock *sk, int ifindex, bool up, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, up ? IFF_UP : 0, IFF_UP);
	if (!m)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "failed to set link %d %s", ifindex, up ? "up" : "down");
}

int cnl_link_set_mtu(struct nl_sock *sk, int ifindex, unsigned mtu, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, 0, 0);
	if (!m || nla_put_u32(m, IFLA_MTU, mtu) < 0)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "failed to set MTU %u on link %d", mtu, ifindex);
}

int cnl_link_set_mac(struct nl_sock *sk, int ifindex, const uint8_t mac[6], struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, 0, 0);
	if (!m || nla_put(m, IFLA_ADDRESS, 6, mac) < 0)
		return CNL_OOM(err);
	char b[18];
	return cnl_do(sk, m, NULL, NULL, err, "failed to set MAC %s on link %d", cnl_mac_fmt(mac, b), ifindex);
}

int cnl_link_set_master(struct nl_sock *sk, int ifindex, int master_ifindex, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, 0, 0);
	if (!m || nla_put_u32(m, IFLA_MASTER, (uint32_t)master_ifindex) < 0)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "failed to set master %d of link %d", master_ifindex, ifindex);
}

int cnl_link_rename(struct nl_sock *sk, int ifindex, const char *name, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, 0, 0);
	if (!m || nla_put_string(m, IFLA_IFNAME, name) < 0)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "failed to rename link %d to \"%s\"", ifindex, name);
}

int cnl_link_set_netns(struct nl_sock *sk, int ifindex, int nsfd, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, 0, 0);
	if (!m || nla_put_u32(m, IFLA_NET_NS_FD, (uint32_t)nsfd) < 0)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "failed to move link %d to another netns", ifindex);
}

int cnl_link_set_promisc(struct nl_sock *sk, int ifindex, bool on, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, on ? IFF_PROMISC : 0, IFF_PROMISC);
	if (!m)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "failed to set promiscuous mode %s on link %d", on ? "on" : "off",
		      ifindex);
}

int cnl_link_set_allmulti(struct nl_sock *sk, int ifindex, bool on, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, on ? IFF_ALLMULTI : 0, IFF_ALLMULTI);
	if (!m)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "failed to set all-multicast mode %s on link %d", on ? "on" : "off",
		      ifindex);
}

int cnl_link_set_txqlen(struct nl_sock *sk, int ifindex, unsigned qlen, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, 0, 0);
	if (!m || nla_put_u32(m, IFLA_TXQLEN, qlen) < 0)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "failed to set transmit queue length %u on link %d", qlen, ifindex);
}

int cnl_link_set_addrgenmode(struct nl_sock *sk, int ifindex, uint8_t mode, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, 0, 0);
	if (!m)
		return CNL_OOM(err);
	struct nlattr *af = nla_nest_start(m, IFLA_AF_SPEC), *in6;
	if (!af || !(in6 = nla_nest_start(m, AF_INET6)) || nla_put_u8(m, IFLA_INET6_ADDR_GEN_MODE, mode) < 0)
		return CNL_OOM(err);
	nla_nest_end(m, in6);
	nla_nest_end(m, af);
	return cnl_do(sk, m, NULL, NULL, err, "failed to set IPv6 addrgenmode of link %d", ifindex);
}

int cnl_link_set_inet_conf(struct nl_sock *sk, int ifindex, int devconf, uint32_t value, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, 0, 0);
	if (!m)
		return CNL_OOM(err);
	struct nlattr *af = nla_nest_start(m, IFLA_AF_SPEC), *in4, *conf;
	if (!af || !(in4 = nla_nest_start(m, AF_INET)) || !(conf = nla_nest_start(m, IFLA_INET_CONF)) ||
	    nla_put_u32(m, devconf, value) < 0)
		return CNL_OOM(err);
	nla_nest_end(m, conf);
	nla_nest_end(m, in4);
	nla_nest_end(m, af);
	return cnl_do(sk, m, NULL, NULL, err, "failed to set IPv4 setting %d of link %d", devconf, ifindex);
}

static int parse_netconf(const struct nlmsghdr *h, void *arg)
{
	int *fwd = arg;
	if (h->nlmsg_type != RTM_NEWNETCONF)
		return 0;
	struct nlattr *tb[NETCONFA_MAX + 1];
	if (nlmsg_parse((struct nlmsghdr *)h, sizeof(struct netconfmsg), tb, NETCONFA_MAX, NULL) < 0)
		return -EINVAL;
	if (tb[NETCONFA_FORWARDING])
		*fwd = (int)nla_get_u32(tb[NETCONFA_FORWARDING]);
	return 0;
}

int cnl_forwarding_get(struct nl_sock *sk, int family, bool *on, struct cni_error *err)
{
	struct netconfmsg ncm = { .ncm_family = (uint8_t)family };
	_cleanup_msg_ struct nl_msg *m = cnl_msg(RTM_GETNETCONF, 0, &ncm, sizeof(ncm));
	if (!m || nla_put_s32(m, NETCONFA_IFINDEX, NETCONFA_IFINDEX_ALL) < 0)
		return CNL_OOM(err);
	int fwd = -1;
	if (cnl_do(sk, m, parse_netconf, &fwd, err, "failed to read the %s forwarding setting",
		   family == AF_INET ? "IPv4" : "IPv6") < 0)
		return -1;
	if (fwd < 0)
		return cni_errorf(err, CNI_ERR_NETLINK, "the kernel did not report the %s forwarding setting",
				  family == AF_INET ? "IPv4" : "IPv6");
	*on = fwd > 0;
	return 0;
}

int cnl_link_del(struct nl_sock *sk, int ifindex, struct cni_error *err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	_cleanup_msg_ struct nl_msg *m = cnl_msg(RTM_DELLINK, 0, &ifi, sizeof(ifi));
	if (!m)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "failed to delete link %d", ifindex);
}

int cnl_link_del_name(struct nl_sock *sk, const char *name, struct cni_error *err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	_cleanup_msg_ struct nl_msg *m = cnl_msg(RTM_DELLINK, 0, &ifi, sizeof(ifi));
	if (!m || nla_put_string(m, IFLA_IFNAME, name) < 0)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "failed to delete link \"%s\"", name);
}

/* ---- veth ---- */

int cnl_veth_create(struct nl_sock *sk, const struct cnl_veth *v, struct cni_error *err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = v->up ? IFF_UP : 0,
				 .ifi_change = v->up ? IFF_UP : 0 };
	/* With NLM_F_ECHO the kernel sends back the new link's RTM_NEWLINK
	 * (ifindex, MAC): no query after creation. */
	_cleanup_msg_ struct nl_msg *m =
		cnl_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | (v->out ? NLM_F_ECHO : 0), &ifi, sizeof(ifi));
	if (v->out)
		memset(v->out, 0, sizeof(*v->out));
	if (!m || nla_put_string(m, IFLA_IFNAME, v->name) < 0 || nla_put_u32(m, IFLA_NUM_TX_QUEUES, 1) < 0 ||
	    nla_put_u32(m, IFLA_NUM_RX_QUEUES, 1) < 0 || (v->mtu && nla_put_u32(m, IFLA_MTU, v->mtu) < 0) ||
	    (v->mac && nla_put(m, IFLA_ADDRESS, 6, v->mac) < 0) ||
	    (v->master && nla_put_u32(m, IFLA_MASTER, (uint32_t)v->master) < 0))
		return CNL_OOM(err);
	struct nlattr *li = nla_nest_start(m, IFLA_LINKINFO);
	if (!li || nla_put_string(m, IFLA_INFO_KIND, "veth") < 0)
		return CNL_OOM(err);
	struct nlattr *data = nla_nest_start(m, IFLA_INFO_DATA);
	struct nlattr *peer = data ? nla_nest_start(m, VETH_INFO_PEER) : NULL;
	/* The peer's ifinfomsg: never IFF_UP (the kernel refuses it there). */
	struct ifinfomsg pifi = { .ifi_family = AF_UNSPEC };
	if (!peer || nlmsg_append(m, &pifi, sizeof(pifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(m, IFLA_IFNAME, v->peer_name) < 0 || nla_put_u32(m, IFLA_NUM_TX_QUEUES, 1) < 0 ||
	    nla_put_u32(m, IFLA_NUM_RX_QUEUES, 1) < 0 || (v->mtu && nla_put_u32(m, IFLA_MTU, v->mtu) < 0) ||
	    (v->peer_mac && nla_put(m, IFLA_ADDRESS, 6, v->peer_mac) < 0) ||
	    (v->peer_nsfd >= 0 && nla_put_u32(m, IFLA_NET_NS_FD, (uint32_t)v->peer_nsfd) < 0))
		return CNL_OOM(err);
	nla_nest_end(m, peer);
	nla_nest_end(m, data);
	nla_nest_end(m, li);
	return cnl_do(sk, m, v->out ? parse_link : NULL, v->out, err, "failed to create veth pair \"%s\"/\"%s\"",
		      v->name, v->peer_name);
}

/* ---- bridges ---- */

static int bridge_create(struct nl_sock *sk, const char *name, unsigned mtu, bool vlan_filtering,
			 struct cni_error *err)
{
	/* A random locally administered unicast MAC, set at creation: the
	 * bridge then keeps it instead of taking its lowest port's MAC (the
	 * reference pins it later, when it adds the gateway address). */
	uint8_t mac[6];
	if (getrandom(mac, sizeof(mac), 0) != sizeof(mac))
		return cni_errorf_errno(err, CNI_ERR_INTERNAL, errno, "getrandom");
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	_cleanup_msg_ struct nl_msg *m = cnl_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	if (!m || nla_put_string(m, IFLA_IFNAME, name) < 0 || nla_put(m, IFLA_ADDRESS, 6, mac) < 0 ||
	    (mtu && nla_put_u32(m, IFLA_MTU, mtu) < 0))
		return CNL_OOM(err);
	struct nlattr *li = nla_nest_start(m, IFLA_LINKINFO);
	if (!li || nla_put_string(m, IFLA_INFO_KIND, "bridge") < 0)
		return CNL_OOM(err);
	if (vlan_filtering) {
		struct nlattr *d = nla_nest_start(m, IFLA_INFO_DATA);
		if (!d || nla_put_u8(m, IFLA_BR_VLAN_FILTERING, 1) < 0)
			return CNL_OOM(err);
		nla_nest_end(m, d);
	}
	nla_nest_end(m, li);
	return cnl_do(sk, m, NULL, NULL, err, "failed to create bridge \"%s\"", name);
}

static int bridge_set_vlan_filtering(struct nl_sock *sk, int ifindex, const char *name, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, 0, 0);
	if (!m)
		return CNL_OOM(err);
	struct nlattr *li = nla_nest_start(m, IFLA_LINKINFO), *d;
	if (!li || nla_put_string(m, IFLA_INFO_KIND, "bridge") < 0 || !(d = nla_nest_start(m, IFLA_INFO_DATA)) ||
	    nla_put_u8(m, IFLA_BR_VLAN_FILTERING, 1) < 0)
		return CNL_OOM(err);
	nla_nest_end(m, d);
	nla_nest_end(m, li);
	return cnl_do(sk, m, NULL, NULL, err, "failed to enable VLAN filtering on bridge \"%s\"", name);
}

static int vlan_feature_error(int r, const char *name, struct cni_error *err)
{
	if (r < 0 && cnl_last_errno() == EOPNOTSUPP)
		return cni_errorf(err, CNI_ERR_KERNEL_FEATURE,
				  "bridge \"%s\": this kernel has no bridge VLAN filtering "
				  "(CONFIG_BRIDGE_VLAN_FILTERING), needed for \"vlan\"/\"vlanTrunk\"",
				  name);
	return r;
}

int cnl_bridge_ensure(struct nl_sock *sk, const char *name, unsigned mtu, bool vlan_filtering,
		      struct cnl_link *out, struct cni_error *err)
{
	struct cni_error e = { 0 };
	/* Look first: the common case is an existing bridge, and a create
	 * attempt that fails with EEXIST costs more than a lookup. */
	if (cnl_link_query(sk, name, 0, out, &e) < 0) {
		if (e.code != CNI_ERR_NOT_FOUND) {
			*err = e;
			return -1;
		}
		int r = bridge_create(sk, name, mtu, vlan_filtering, &e);
		if (r < 0 && e.code != CNI_ERR_EXISTS) {
			if (vlan_filtering && cnl_last_errno() == EOPNOTSUPP)
				return vlan_feature_error(r, name, err);
			*err = e;
			return -1;
		}
		/* A bridge we created does no DAD on its own link-local
		 * address (added when the first port brings carrier): while
		 * it is tentative the host sends no neighbour solicitation on
		 * the bridge for forwarded packets, so inbound-first IPv6 to
		 * its first containers waited ~2 s. Its MAC is random and
		 * locally administered; a duplicate is not a real risk. Best
		 * effort (IPv6 may be off). */
		if (r == 0)
			(void)cni_sysctl_writef("0", &e, "net/ipv6/conf/%s/accept_dad", name);
		/* created, or created concurrently by another ADD */
		if (cnl_link_query(sk, name, 0, out, err) < 0)
			return -1;
	}
	if (strcmp(out->kind, "bridge"))
		return cni_errorf(err, CNI_ERR_EXISTS, "\"%s\" already exists but is not a bridge", name);
	if (vlan_filtering && out->br_vlan_filtering != 1 &&
	    vlan_feature_error(bridge_set_vlan_filtering(sk, out->ifindex, name, err), name, err) < 0)
		return -1;
	if (!(out->flags & IFF_UP)) {
		if (cnl_link_set_up(sk, out->ifindex, true, err) < 0)
			return cni_error_wrap(err, "failed to set bridge \"%s\" up", name);
		out->flags |= IFF_UP;
	}
	return 0;
}

int cnl_bridge_port_set(struct nl_sock *sk, int ifindex, int hairpin, int isolated, struct cni_error *err)
{
	if (hairpin < 0 && isolated < 0)
		return 0;
	_cleanup_msg_ struct nl_msg *m = setlink_msg(ifindex, 0, 0);
	if (!m)
		return CNL_OOM(err);
	struct nlattr *li = nla_nest_start(m, IFLA_LINKINFO), *sd;
	if (!li || nla_put_string(m, IFLA_INFO_SLAVE_KIND, "bridge") < 0 ||
	    !(sd = nla_nest_start(m, IFLA_INFO_SLAVE_DATA)) ||
	    (hairpin >= 0 && nla_put_u8(m, IFLA_BRPORT_MODE, (uint8_t)!!hairpin) < 0) ||
	    (isolated >= 0 && nla_put_u8(m, IFLA_BRPORT_ISOLATED, (uint8_t)!!isolated) < 0))
		return CNL_OOM(err);
	nla_nest_end(m, sd);
	nla_nest_end(m, li);
	return cnl_do(sk, m, NULL, NULL, err, "failed to set bridge port flags of link %d", ifindex);
}

/* ---- MAC text ---- */

const char *cnl_mac_fmt(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

int cnl_mac_parse(const char *s, uint8_t mac[6])
{
	if (!s || strlen(s) != 17)
		return -1;
	char sep = s[2];
	if (sep != ':' && sep != '-')
		return -1;
	for (int i = 0; i < 6; i++) {
		const char *p = s + i * 3;
		if (i < 5 && p[2] != sep)
			return -1;
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = p[k];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return -1;
		}
		mac[i] = (uint8_t)v;
	}
	return 0;
}
