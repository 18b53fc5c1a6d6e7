/* Sub-links (macvlan, ipvlan, vlan, dummy), tap and multi-attribute link changes
 * with raw rtnetlink messages, exchanged through pkg/netlink's cnl_talk /
 * cnl_do (one request path per socket: the kernel's errno and extended-ack
 * text end up in the message). Every attribute the plugins need is spelled
 * out here (libnl's link objects lack e.g. the macvlan broadcast queue
 * length and the ipvlan flags). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>

#include "cni/netlink.h"
#include "cni/sublink.h"
#include "nl_internal.h"

/* ---- small parsers ---- */

static const struct { const char *name; uint32_t mode; } macvlan_modes[] = {
	{ "bridge", MACVLAN_MODE_BRIDGE }, { "private", MACVLAN_MODE_PRIVATE }, { "vepa", MACVLAN_MODE_VEPA },
	{ "passthru", MACVLAN_MODE_PASSTHRU },
};

int sublink_macvlan_mode_parse(const char *s, uint32_t *mode)
{
	if (!s || !*s) {
		*mode = MACVLAN_MODE_BRIDGE;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(macvlan_modes); i++)
		if (!strcmp(s, macvlan_modes[i].name)) {
			*mode = macvlan_modes[i].mode;
			return 0;
		}
	return -1;
}

const char *sublink_macvlan_mode_name(uint32_t mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(macvlan_modes); i++)
		if (macvlan_modes[i].mode == mode)
			return macvlan_modes[i].name;
	return "unknown";
}

static const struct { const char *name; uint16_t mode; } ipvlan_modes[] = {
	{ "l2", IPVLAN_MODE_L2 }, { "l3", IPVLAN_MODE_L3 }, { "l3s", IPVLAN_MODE_L3S },
};

int sublink_ipvlan_mode_parse(const char *s, uint16_t *mode)
{
	if (!s || !*s) {
		*mode = IPVLAN_MODE_L2;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ipvlan_modes); i++)
		if (!strcmp(s, ipvlan_modes[i].name)) {
			*mode = ipvlan_modes[i].mode;
			return 0;
		}
	return -1;
}

const char *sublink_ipvlan_mode_name(uint16_t mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(ipvlan_modes); i++)
		if (ipvlan_modes[i].mode == mode)
			return ipvlan_modes[i].name;
	return "unknown";
}

int sublink_ipvlan_flag_parse(const char *s, uint16_t *flags)
{
	if (!s || !*s || !strcmp(s, "bridge"))
		*flags = 0;
	else if (!strcmp(s, "private"))
		*flags = IPVLAN_F_PRIVATE;
	else if (!strcmp(s, "vepa"))
		*flags = IPVLAN_F_VEPA;
	else
		return -1;
	return 0;
}

const char *sublink_ipvlan_flag_name(uint16_t flags)
{
	if (flags & IPVLAN_F_PRIVATE)
		return "private";
	if (flags & IPVLAN_F_VEPA)
		return "vepa";
	return "bridge";
}

void sublink_temp_name(const char *prefix, char out[IF_NAMESIZE])
{
	uint8_t r[4] = { 0 };
	if (getrandom(r, sizeof(r), 0) != sizeof(r)) {
		unsigned x = (unsigned)getpid() ^ (unsigned)(uintptr_t)out;
		memcpy(r, &x, sizeof(r));
	}
	snprintf(out, IF_NAMESIZE, "%.7s%02x%02x%02x%02x", prefix, r[0], r[1], r[2], r[3]);
}

/* ---- errors ---- */

static const char *kind_module(const char *kind)
{
	if (!strcmp(kind, "vlan"))
		return "8021q";
	return kind;
}

/* ---- create ---- */

static int put_kind_data(struct nl_msg *m, const struct sublink_spec *s)
{
	struct nlattr *li = nla_nest_start(m, IFLA_LINKINFO);
	if (!li || nla_put_string(m, IFLA_INFO_KIND, s->kind) < 0)
		return -1;
	struct nlattr *data = NULL;
	if (!strcmp(s->kind, "macvlan")) {
		data = nla_nest_start(m, IFLA_INFO_DATA);
		if (!data || nla_put_u32(m, IFLA_MACVLAN_MODE, s->macvlan_mode) < 0)
			return -1;
		if (s->bc_queue_len && nla_put_u32(m, IFLA_MACVLAN_BC_QUEUE_LEN, s->bc_queue_len) < 0)
			return -1;
	} else if (!strcmp(s->kind, "ipvlan")) {
		data = nla_nest_start(m, IFLA_INFO_DATA);
		if (!data || nla_put_u16(m, IFLA_IPVLAN_MODE, s->ipvlan_mode) < 0 ||
		    nla_put_u16(m, IFLA_IPVLAN_FLAGS, s->ipvlan_flags) < 0)
			return -1;
	} else if (!strcmp(s->kind, "vlan")) {
		data = nla_nest_start(m, IFLA_INFO_DATA);
		if (!data || nla_put_u16(m, IFLA_VLAN_ID, (uint16_t)s->vlan_id) < 0)
			return -1;
	}
	if (data)
		nla_nest_end(m, data);
	nla_nest_end(m, li);
	return 0;
}

int sublink_create(struct nl_sock *sk, const struct sublink_spec *s, const char *name, struct cni_error *err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	_cleanup_msg_ struct nl_msg *m = cnl_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	if (!m)
		return CNL_OOM(err);
	int bad = nla_put_string(m, IFLA_IFNAME, name) < 0;
	if (s->master_index > 0)
		bad |= nla_put_u32(m, IFLA_LINK, (uint32_t)s->master_index) < 0;
	if (s->ns_fd >= 0)
		bad |= nla_put_u32(m, IFLA_NET_NS_FD, (uint32_t)s->ns_fd) < 0;
	if (s->mtu > 0)
		bad |= nla_put_u32(m, IFLA_MTU, (uint32_t)s->mtu) < 0;
	if (s->has_mac)
		bad |= nla_put(m, IFLA_ADDRESS, 6, s->mac) < 0;
	bad |= put_kind_data(m, s) < 0;
	if (bad)
		return cni_errorf(err, CNI_ERR_INTERNAL, "failed to build %s request", s->kind);
	if (cnl_do(sk, m, NULL, NULL, err, "failed to create %s", s->kind) == 0)
		return 0;
	if (cnl_last_errno() == EOPNOTSUPP)
		return cni_errorf(err, CNI_ERR_KERNEL_FEATURE,
				  "failed to create %s: the running kernel has no %s support (driver \"%s\" not built "
				  "in and not loadable)",
				  s->kind, s->kind, kind_module(s->kind));
	return -1;
}

int sublink_create_in(struct nl_sock *sk_master, struct nl_sock *sk_target, const struct sublink_spec *spec,
		      const char *ifname, struct cnl_link *link, struct cni_error *err)
{
	/* Straight under its final name (the kernel creates it in the target
	 * netns, where the name is checked): one request and one look instead
	 * of four, and no rename (which re-registers the link's sysctls). If
	 * the name is taken there, the reference's way below (temporary name,
	 * rename) reports it as the reference does. */
	struct cni_error e1 = { 0 };
	if (sublink_create(sk_master, spec, ifname, &e1) == 0) {
		if (cnl_link_query(sk_target, ifname, 0, link, err) == 0)
			return 0;
		struct cni_error ignored = { 0 };
		cnl_link_del_name(sk_target, ifname, &ignored);
		return cni_error_wrap(err, "failed to find new %s \"%s\"", spec->kind, ifname);
	}
	if (e1.code != CNI_ERR_EXISTS) {
		*err = e1;
		return -1;
	}
	char tmp[IF_NAMESIZE];
	int r = -1;
	for (int attempt = 0; attempt < 5; attempt++) {
		sublink_temp_name("cni", tmp);
		r = sublink_create(sk_master, spec, tmp, err);
		if (r == 0 || err->code != CNI_ERR_EXISTS)
			break;
	}
	if (r < 0)
		return -1;
	struct cnl_link tl;
	if (cnl_link_query(sk_target, tmp, 0, &tl, err) < 0)
		return cni_error_wrap(err, "failed to find new %s \"%s\"", spec->kind, tmp);
	struct sublink_change chg = SUBLINK_CHANGE_INIT;
	chg.name = ifname;
	if (sublink_change(sk_target, tl.ifindex, &chg, err) < 0) {
		struct cni_error ignored = { 0 };
		cnl_link_del(sk_target, tl.ifindex, &ignored);
		return cni_error_wrap(err, "failed to rename %s to \"%s\"", spec->kind, ifname);
	}
	if (cnl_link_query(sk_target, NULL, tl.ifindex, link, err) < 0) {
		struct cni_error ignored = { 0 };
		cnl_link_del(sk_target, tl.ifindex, &ignored);
		return -1;
	}
	return 0;
}

/* ---- change ---- */

int sublink_change(struct nl_sock *sk, int ifindex, const struct sublink_change *c, struct cni_error *err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	if (c->up >= 0) {
		ifi.ifi_change = IFF_UP;
		ifi.ifi_flags = c->up ? IFF_UP : 0;
	}
	_cleanup_msg_ struct nl_msg *m = cnl_msg(RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	if (!m)
		return CNL_OOM(err);
	int bad = 0;
	if (c->name)
		bad |= nla_put_string(m, IFLA_IFNAME, c->name) < 0;
	if (c->mac)
		bad |= nla_put(m, IFLA_ADDRESS, 6, c->mac) < 0;
	if (c->alias)
		bad |= nla_put(m, IFLA_IFALIAS, (int)strlen(c->alias), c->alias) < 0;
	if (c->mtu > 0)
		bad |= nla_put_u32(m, IFLA_MTU, (uint32_t)c->mtu) < 0;
	if (c->master_index >= 0)
		bad |= nla_put_u32(m, IFLA_MASTER, (uint32_t)c->master_index) < 0;
	if (c->ns_fd >= 0)
		bad |= nla_put_u32(m, IFLA_NET_NS_FD, (uint32_t)c->ns_fd) < 0;
	if (bad)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "failed to change link %d%s%s%s", ifindex, c->name ? " (name \"" : "",
		      c->name ? c->name : "", c->name ? "\")" : "");
}

/* ---- default route ---- */

int sublink_default_route_ifname(struct nl_sock *sk, char name[IF_NAMESIZE], struct cni_error *err)
{
	static const int families[] = { AF_INET, AF_INET6 };
	int oif = 0;
	for (size_t f = 0; f < ARRAY_SIZE(families) && !oif; f++) {
		_cleanup_free_ struct cnl_route *r = NULL;
		size_t n = 0;
		if (cnl_route_list(sk, 0, families[f], RT_TABLE_MAIN, &r, &n, err) < 0)
			return -1;
		for (size_t i = 0; i < n && !oif; i++)
			if (r[i].dst.prefix == 0 && r[i].type == RTN_UNICAST)
				oif = r[i].oif;
	}
	if (!oif)
		return cni_errorf(err, CNI_ERR_NOT_FOUND, "no default route interface found");
	struct cnl_link l;
	if (cnl_link_query(sk, NULL, oif, &l, err) < 0)
		return -1;
	snprintf(name, IF_NAMESIZE, "%s", l.name);
	return 0;
}

/* ---- tap ---- */

int sublink_tap_create(const char *name, bool multi_queue, long long owner, long long group, struct cni_error *err)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
			return cni_errorf_errno(err, CNI_ERR_KERNEL_FEATURE, errno,
						"failed to open /dev/net/tun: the kernel has no tun/tap support");
		return cni_errorf_errno(err, CNI_ERR_NETLINK, errno, "failed to open /dev/net/tun");
	}
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
	int r = 0;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		r = cni_errorf_errno(err, errno == EBUSY ? CNI_ERR_EXISTS : CNI_ERR_NETLINK, errno,
				     "failed to create tap \"%s\"", name);
	else if (owner >= 0 && ioctl(fd, TUNSETOWNER, (unsigned long)owner) < 0)
		r = cni_errorf_errno(err, CNI_ERR_NETLINK, errno, "failed to set owner %lld of tap \"%s\"", owner, name);
	else if (group >= 0 && ioctl(fd, TUNSETGROUP, (unsigned long)group) < 0)
		r = cni_errorf_errno(err, CNI_ERR_NETLINK, errno, "failed to set group %lld of tap \"%s\"", group, name);
	else if (ioctl(fd, TUNSETPERSIST, 1UL) < 0)
		r = cni_errorf_errno(err, CNI_ERR_NETLINK, errno, "failed to make tap \"%s\" persistent", name);
	close(fd); /* not persistent yet on failure: closing removes it */
	return r;
}
