/* Bridge port VLANs (bridge vlan_filtering): RTM_SETLINK / RTM_DELLINK of
 * family AF_BRIDGE with IFLA_AF_SPEC { IFLA_BRIDGE_VLAN_INFO }. */
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/netlink.h>

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
