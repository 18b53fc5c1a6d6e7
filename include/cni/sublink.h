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
 * Applying an IPAM result and checking it again are the shared
 * cnl_configure_iface / cnl_check_* of cni/netlink.h. */
#ifndef CNI_SUBLINK_H
#define CNI_SUBLINK_H

#include <net/if.h>
#include <netlink/netlink.h>
#include <stdbool.h>
#include <stdint.h>

#include "cni/common.h"
#include "cni/result.h"

#define SUBLINK_MAC_LEN 6

struct sublink_spec {
	const char *kind;       /* "macvlan", "ipvlan", "vlan", "dummy" */
	int master_index;       /* IFLA_LINK in the sending socket's netns; 0 = none */
	int ns_fd;              /* target netns; -1 = the sending socket's netns */
	int mtu;                /* 0 = inherit */
	bool has_mac;
	uint8_t mac[SUBLINK_MAC_LEN];
	/* macvlan */
	uint32_t macvlan_mode;  /* MACVLAN_MODE_* */
	uint32_t bc_queue_len;  /* 0 = kernel default */
	/* ipvlan */
	uint16_t ipvlan_mode;   /* IPVLAN_MODE_* */
	uint16_t ipvlan_flags;  /* IPVLAN_F_PRIVATE / IPVLAN_F_VEPA, 0 = bridge */
	/* vlan */
	int vlan_id;
};

/* What the kernel says about one link. */
struct sublink_info {
	int ifindex;
	char name[IF_NAMESIZE];
	char kind[32];          /* IFLA_INFO_KIND, "" for a plain device */
	unsigned flags;         /* IFF_* */
	int mtu;
	int master_index;       /* IFLA_LINK (parent), 0 when none */
	int link_netnsid;       /* IFLA_LINK_NETNSID, -1 when parent is in the same netns */
	uint8_t mac[SUBLINK_MAC_LEN];
	bool has_mac;
	char alias[256];          /* IFLA_IFALIAS (kernel limit IFALIASZ) */
	uint32_t macvlan_mode;
	bool has_macvlan_mode;
	uint16_t ipvlan_mode, ipvlan_flags;
	bool has_ipvlan_mode;
	int vlan_id;            /* -1 when not a vlan */
	uint32_t tun_type;      /* IFLA_TUN_TYPE (IFF_TUN / IFF_TAP), 0 when not a tun */
	bool tun_multi_queue;
	long long tun_owner, tun_group; /* -1 = none */
};

/* Parse "aa:bb:cc:dd:ee:ff" (also '-' separated). 0 / -1. */
int sublink_mac_parse(const char *s, uint8_t mac[SUBLINK_MAC_LEN]);
/* Lower-case colon form, as the reference prints MACs. */
const char *sublink_mac_fmt(const uint8_t mac[SUBLINK_MAC_LEN], char buf[18]);

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
 * netns), delete it again if the rename fails. *info gets the final link. */
int sublink_create_in(struct nl_sock *sk_master, struct nl_sock *sk_target, const struct sublink_spec *spec,
		      const char *ifname, struct sublink_info *info, struct cni_error *err);

/* Look up a link by name (ifindex 0) or index; CNI_ERR_NOT_FOUND when absent. */
int sublink_get(struct nl_sock *sk, int ifindex, const char *name, struct sublink_info *info,
		struct cni_error *err);

/* First link of a full dump for which match(info, arg) is true (a dump: only
 * for selectors that cannot name the link, e.g. a MAC address). */
int sublink_find(struct nl_sock *sk, bool (*match)(const struct sublink_info *, void *), void *arg,
		 struct sublink_info *info, struct cni_error *err);

/* Delete a link by name; *gone (may be NULL) tells it was already absent,
 * which is not an error. */
int sublink_delete(struct nl_sock *sk, const char *name, bool *gone, struct cni_error *err);
int sublink_delete_index(struct nl_sock *sk, int ifindex, struct cni_error *err);

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
