/* Bridge port VLANs (bridge vlan_filtering): RTM_SETLINK / RTM_DELLINK of
 * family AF_BRIDGE with IFLA_AF_SPEC { IFLA_BRIDGE_VLAN_INFO }. */
#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/netlink.h>
#include <string.h>

#include "cni/netlink.h"
#include "nl_internal.h"

int cnl_bridge_vlan(struct nl_sock *sk, int ifindex, bool add, uint16_t lo, uint16_t hi, unsigned flags,
		    struct cni_error *err)
{
	if (lo < 1 || hi > 4094 || hi < lo)
		return cni_errorf(err, CNI_ERR_INTERNAL, "bad VLAN range %u-%u", lo, hi);
	struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE, .ifi_index = ifindex };
	_cleanup_msg_ struct nl_msg *m = cnl_msg(add ? RTM_SETLINK : RTM_DELLINK, 0, &ifi, sizeof(ifi));
	if (!m)
		return CNL_OOM(err);
	uint16_t f = (uint16_t)((flags & CNL_VLAN_PVID ? BRIDGE_VLAN_INFO_PVID : 0) |
				(flags & CNL_VLAN_UNTAGGED ? BRIDGE_VLAN_INFO_UNTAGGED : 0));
	struct bridge_vlan_info a = { .flags = f, .vid = lo }, b = { .flags = f, .vid = hi };
	if (hi != lo) {
		a.flags |= BRIDGE_VLAN_INFO_RANGE_BEGIN;
		b.flags |= BRIDGE_VLAN_INFO_RANGE_END;
	}
	struct nlattr *spec = nla_nest_start(m, IFLA_AF_SPEC);
	if (!spec || nla_put(m, IFLA_BRIDGE_VLAN_INFO, sizeof(a), &a) < 0 ||
	    (hi != lo && nla_put(m, IFLA_BRIDGE_VLAN_INFO, sizeof(b), &b) < 0))
		return CNL_OOM(err);
	nla_nest_end(m, spec);
	if (lo == hi)
		return cnl_do(sk, m, NULL, NULL, err, "failed to %s VLAN %u on link %d", add ? "add" : "delete", lo,
			      ifindex);
	return cnl_do(sk, m, NULL, NULL, err, "failed to %s VLANs %u-%u on link %d", add ? "add" : "delete", lo, hi,
		      ifindex);
}

struct vlan_dump {
	int ifindex;
	struct cnl_port_vlans *out;
};

static void set_bit(uint64_t *bm, unsigned v) { bm[v / 64] |= 1ull << (v % 64); }

static int parse_port_vlans(const struct nlmsghdr *h, void *arg)
{
	struct vlan_dump *d = arg;
	const struct ifinfomsg *ifi = nlmsg_data(h);
	if (h->nlmsg_type != RTM_NEWLINK || ifi->ifi_index != d->ifindex)
		return 0;
	struct nlattr *spec = nlmsg_find_attr((struct nlmsghdr *)h, sizeof(*ifi), IFLA_AF_SPEC);
	if (!spec)
		return 0;
	struct nlattr *a;
	int rem;
	unsigned begin = 0;
	nla_for_each_nested(a, spec, rem) {
		if (nla_type(a) != IFLA_BRIDGE_VLAN_INFO || nla_len(a) < (int)sizeof(struct bridge_vlan_info))
			continue;
		const struct bridge_vlan_info *v = nla_data(a);
		if (v->vid < 1 || v->vid > 4094)
			continue;
		if (v->flags & BRIDGE_VLAN_INFO_RANGE_BEGIN) {
			begin = v->vid;
			continue;
		}
		unsigned lo = (v->flags & BRIDGE_VLAN_INFO_RANGE_END) && begin ? begin : v->vid;
		for (unsigned vid = lo; vid <= v->vid; vid++) {
			set_bit(d->out->vids, vid);
			if (v->flags & BRIDGE_VLAN_INFO_UNTAGGED)
				set_bit(d->out->untagged, vid);
		}
		if (v->flags & BRIDGE_VLAN_INFO_PVID)
			d->out->pvid = v->vid;
		begin = 0;
	}
	return 0;
}

int cnl_bridge_port_vlans(struct nl_sock *sk, int ifindex, struct cnl_port_vlans *out, struct cni_error *err)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		memset(out, 0, sizeof(*out));
		struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE };
		_cleanup_msg_ struct nl_msg *m = cnl_msg(RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
		if (!m || nla_put_u32(m, IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN_COMPRESSED) < 0)
			return CNL_OOM(err);
		struct vlan_dump d = { .ifindex = ifindex, .out = out };
		char ktext[128];
		int r = cnl_talk(sk, m, parse_port_vlans, &d, ktext, sizeof(ktext));
		if (r == -EINTR)
			continue;
		if (r < 0)
			return cni_errorf(err, CNI_ERR_NETLINK, "failed to list VLANs of link %d: %s", ifindex,
					  strerror(-r));
		return 0;
	}
	return cni_errorf(err, CNI_ERR_NETLINK, "failed to list VLANs of link %d: dump interrupted 5 times", ifindex);
}
