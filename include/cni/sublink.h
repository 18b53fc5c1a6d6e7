/* Links that hang off another link or stand alone in a container:
 * macvlan, ipvlan, 802.1q vlan, dummy, tap; and moving an existing device
 * between namespaces (host-device).
 *
 * A sub-link is created with a temporary name directly in its target
 * namespace (IFLA_NET_NS_FD on the RTM_NEWLINK sent in the master's
 * namespace), then renamed to the final name inside the target: the final
 * name may exist in the master's namespace, and a clash inside the target is
 * reported as such instead of half-creating anything.
 *
 * Kernel errors keep their errno in the message; a link type the kernel does
 * not know (driver not built in, module not loadable) is CNI_ERR_KERNEL_FEATURE
 * naming the missing driver.
 *
 * Looking links up (cnl_link_query, cnl_link_find), deleting them, MAC text,
 * applying an IPAM result and checking it again are the shared cnl_* of
 * cni/netlink.h; this header has only what the link plugins add to them. */
#ifndef CNI_SUBLINK_H
#define CNI_SUBLINK_H

#include <net/if.h>
#include <netlink/netlink.h>
#include <stdbool.h>
#include <stdint.h>

#include "cni/common.h"
#include "cni/netlink.h"
#include "cni/result.h"

struct sublink_spec {
	const char *kind;       /* "macvlan", "ipvlan", "vlan", "dummy" */
	int master_index;       /* IFLA_LINK in the sending socket's netns; 0 = none */
	int ns_fd;              /* target netns; -1 = the sending socket's netns */
	int mtu;                /* 0 = inherit */
	bool has_mac;
	uint8_t mac[6];
	/* macvlan */
	uint32_t macvlan_mode;  /* MACVLAN_MODE_* */
	uint32_t bc_queue_len;  /* 0 = kernel default */
	/* ipvlan */
	uint16_t ipvlan_mode;   /* IPVLAN_MODE_* */
	uint16_t ipvlan_flags;  /* IPVLAN_F_PRIVATE / IPVLAN_F_VEPA, 0 = bridge */
	/* vlan */
	int vlan_id;
};

/* "macvlan"/"ipvlan"/... ; NULL-safe readable names of modes. */
int sublink_macvlan_mode_parse(const char *s, uint32_t *mode);
const char *sublink_macvlan_mode_name(uint32_t mode);
int sublink_ipvlan_mode_parse(const char *s, uint16_t *mode);
const char *sublink_ipvlan_mode_name(uint16_t mode);
int sublink_ipvlan_flag_parse(const char *s, uint16_t *flags);
const char *sublink_ipvlan_flag_name(uint16_t flags);

/* A random temporary name "<prefix>XXXXXXXX" (prefix <= 7 bytes). */
void sublink_temp_name(const char *prefix, char out[IF_NAMESIZE]);

/* Create the link described by spec with name `name` (RTM_NEWLINK, EXCL) on
 * sk. Errors: CNI_ERR_KERNEL_FEATURE when the kind is unknown to the kernel,
 * CNI_ERR_EXISTS on a name clash, CNI_ERR_NETLINK otherwise. */
int sublink_create(struct nl_sock *sk, const struct sublink_spec *spec, const char *name, struct cni_error *err);

/* The whole pattern: create with a temporary name (sent on sk_master, into
 * spec->ns_fd), rename it to `ifname` on sk_target (a socket in the target
 * netns), delete it again if the rename fails. *link gets the final link. */
int sublink_create_in(struct nl_sock *sk_master, struct nl_sock *sk_target, const struct sublink_spec *spec,
		      const char *ifname, struct cnl_link *link, struct cni_error *err);

/* Change attributes of an existing link (RTM_NEWLINK on ifindex). Any of
 * name/mac/alias may be NULL, mtu 0 and master -1 mean unchanged, ns_fd -1
 * means stay; up: -1 unchanged, 0 down, 1 up. */
struct sublink_change {
	const char *name;
	const uint8_t *mac;
	const char *alias;      /* "" clears */
	int mtu;
	int master_index;       /* 0 = release from master */
	int ns_fd;
	int up;
};
#define SUBLINK_CHANGE_INIT { .master_index = -1, .ns_fd = -1, .up = -1 }
int sublink_change(struct nl_sock *sk, int ifindex, const struct sublink_change *chg, struct cni_error *err);

/* Interface of the first main-table route with an all-zero destination
 * (IPv4 first, then IPv6), as the reference picks a default master. */
int sublink_default_route_ifname(struct nl_sock *sk, char name[IF_NAMESIZE], struct cni_error *err);

/* TAP device by ioctl on /dev/net/tun, in the current netns of the caller:
 * persistent, IFF_TAP|IFF_NO_PI|IFF_VNET_HDR (+IFF_MULTI_QUEUE), owner/group
 * when >= 0. */
int sublink_tap_create(const char *name, bool multi_queue, long long owner, long long group,
		       struct cni_error *err);

#endif
