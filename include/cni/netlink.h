/* Kernel objects over rtnetlink (libnl-3 messages): links, addresses,
 * routes, sysctls, and bounded waits on kernel notifications.
 *
 * Objects are looked up by name or index, never by dumping every link of
 * the host; address and route listings are per link (the socket asks the
 * kernel for strict checking, so dumps are filtered in the kernel). A
 * socket belongs to the netns it was opened in, so a plugin opens one per
 * namespace and uses both without switching back.
 *
 * Errors: kernel failures are CNI_ERR_NETLINK (102) with the kernel's
 * extended-ack text when it gave one; "already exists" is CNI_ERR_EXISTS
 * (106); "no such object" is CNI_ERR_NOT_FOUND (110); EOPNOTSUPP from a
 * feature the kernel was built without is reported by the caller as
 * CNI_ERR_KERNEL_FEATURE (108) — cnl_last_errno() tells which errno it was. */
#ifndef CNI_NETLINK_H
#define CNI_NETLINK_H

#include <net/if.h>
#include <netlink/route/link.h>
#include <stdbool.h>
#include <stdint.h>

#include "cni/common.h"
#include "cni/ip.h"
#include "cni/result.h"

/* ---- sockets ---------------------------------------------------------- */

struct nl_sock *cnl_open(struct cni_error *err);
/* A socket in the namespace of nsfd (the caller stays where it is). */
struct nl_sock *cnl_open_netns(int nsfd, struct cni_error *err);
void cnl_close(struct nl_sock *sk);
static inline void cnl_closep(struct nl_sock **sk) { if (*sk) cnl_close(*sk); }
#define _cleanup_nl_ _cleanup_(cnl_closep)
static inline void cnl_link_putp(struct rtnl_link **l) { if (*l) rtnl_link_put(*l); }
#define _cleanup_link_ _cleanup_(cnl_link_putp)

/* errno (positive) of the last failed kernel request of this process. */
int cnl_last_errno(void);

/* ---- links ------------------------------------------------------------ */

/* libnl object forms (kept for simple callers such as loopback). When
 * missing: returns -1 with err->code CNI_ERR_NOT_FOUND. */
int cnl_link_get(struct nl_sock *sk, const char *name, struct rtnl_link **out, struct cni_error *err);
int cnl_link_get_index(struct nl_sock *sk, int ifindex, struct rtnl_link **out, struct cni_error *err);

/* A snapshot of one link, read with one RTM_GETLINK. */
struct cnl_link {
	int ifindex;
	char name[IF_NAMESIZE];
	char kind[32];        /* IFLA_INFO_KIND: "bridge", "veth", ... or "" */
	char slave_kind[32];  /* "bridge" when it is a bridge port */
	unsigned flags;       /* IFF_* */
	unsigned mtu;
	uint8_t mac[6];
	bool has_mac;
	int master;           /* ifindex of the master, 0 = none */
	int link;             /* IFLA_LINK (veth: the peer's ifindex), 0 = none */
	int link_netnsid;     /* -1 when the peer is in the same netns */
	uint8_t operstate;    /* IF_OPER_* */
	unsigned promiscuity;
	unsigned txqlen;      /* IFLA_TXQLEN */
	int brport_state;     /* BR_STATE_* when a bridge port, else -1 */
	int brport_hairpin;   /* -1 unknown */
	int brport_isolated;  /* -1 unknown */
	int br_vlan_filtering;/* bridges: 0/1, -1 unknown */
	char alias[256];      /* IFLA_IFALIAS (kernel limit IFALIASZ), "" = none */
	uint32_t macvlan_mode;/* MACVLAN_MODE_* of a macvlan/macvtap, else 0 */
	uint16_t ipvlan_mode, ipvlan_flags; /* IPVLAN_MODE_* / IPVLAN_F_* of an ipvlan */
	int vlan_id;          /* 802.1q id of a vlan, else -1 */
	uint32_t tun_type;    /* IFF_TUN / IFF_TAP of a tun device, else 0 */
	/* Per-device IP settings from IFLA_AF_SPEC (the same values as
	 * /proc/sys/net/ipv{4,6}/conf/<dev>/...), -1 when not reported. Read
	 * here rather than under /proc/sys: a /proc/sys/net/ipv{4,6} path
	 * lookup walks one dcache entry per netns that ever looked there
	 * (0.5 ms with 3000 netns), a netlink answer costs the same at any
	 * scale. */
	int in4_arp_notify;
	int in6_accept_ra, in6_accept_dad, in6_disable, in6_keep_addr_on_down, in6_ndisc_notify;
};
/* By name (ifindex 0) or by index (name NULL). A name that cannot exist
 * (empty, IF_NAMESIZE or longer) is CNI_ERR_NOT_FOUND like a missing one. */
int cnl_link_query(struct nl_sock *sk, const char *name, int ifindex, struct cnl_link *out, struct cni_error *err);
/* Decode one RTM_NEWLINK message (a reply or a notification); -1 when
 * it is not one. */
int cnl_link_from_msg(const struct nlmsghdr *h, struct cnl_link *out);
/* First link of a full dump for which match(link, arg) is true; a dump,
 * so only for selectors that cannot name the link (e.g. a MAC address).
 * CNI_ERR_NOT_FOUND when none matches. */
int cnl_link_find(struct nl_sock *sk, bool (*match)(const struct cnl_link *, void *), void *arg,
		  struct cnl_link *out, struct cni_error *err);

int cnl_link_set_up(struct nl_sock *sk, int ifindex, bool up, struct cni_error *err);
int cnl_link_set_mtu(struct nl_sock *sk, int ifindex, unsigned mtu, struct cni_error *err);
int cnl_link_set_mac(struct nl_sock *sk, int ifindex, const uint8_t mac[6], struct cni_error *err);
/* master_ifindex 0 = release from its master. */
int cnl_link_set_master(struct nl_sock *sk, int ifindex, int master_ifindex, struct cni_error *err);
int cnl_link_rename(struct nl_sock *sk, int ifindex, const char *name, struct cni_error *err);
/* Move to the netns of nsfd (the link leaves this socket's namespace). */
int cnl_link_set_netns(struct nl_sock *sk, int ifindex, int nsfd, struct cni_error *err);
int cnl_link_set_promisc(struct nl_sock *sk, int ifindex, bool on, struct cni_error *err);
int cnl_link_set_allmulti(struct nl_sock *sk, int ifindex, bool on, struct cni_error *err);
int cnl_link_set_txqlen(struct nl_sock *sk, int ifindex, unsigned qlen, struct cni_error *err);
/* IN6_ADDR_GEN_MODE_*; the kernel takes it only before the link has an
 * IPv6 link-local address (set it while down or without carrier). */
/* One IPv4 per-device setting (IPV4_DEVCONF_*, e.g. ARP_NOTIFY), set with
 * RTM_SETLINK IFLA_AF_SPEC/AF_INET/IFLA_INET_CONF: the netlink twin of
 * /proc/sys/net/ipv4/conf/<dev>/<key>. (IPv6 has no netlink setter.) */
int cnl_link_set_inet_conf(struct nl_sock *sk, int ifindex, int devconf, uint32_t value, struct cni_error *err);
/* The netns-wide forwarding switch of a family (net.ipv4.ip_forward,
 * net.ipv6.conf.all.forwarding) read with RTM_GETNETCONF. */
int cnl_forwarding_get(struct nl_sock *sk, int family, bool *on, struct cni_error *err);
int cnl_link_set_addrgenmode(struct nl_sock *sk, int ifindex, uint8_t mode, struct cni_error *err);
/* Delete; a missing link is CNI_ERR_NOT_FOUND (callers doing DEL treat it
 * as success). */
int cnl_link_del(struct nl_sock *sk, int ifindex, struct cni_error *err);
int cnl_link_del_name(struct nl_sock *sk, const char *name, struct cni_error *err);

/* A veth pair created in one RTM_NEWLINK from this socket's namespace, the
 * peer created directly in peer_nsfd (no move afterwards). Both ends get
 * one tx/rx queue: the kernel otherwise creates one per CPU and shrinks
 * them with two expedited RCU waits (kernel-floor.md section 8). The peer
 * cannot be brought up in the creating message (veth_open needs the pair
 * linked); the host end can, and can be enslaved in the same message.
 * EEXIST (either name) is CNI_ERR_EXISTS. */
struct cnl_veth {
	const char *name;       /* this side */
	const char *peer_name;  /* in peer_nsfd */
	int peer_nsfd;          /* -1 = same namespace */
	unsigned mtu;           /* 0 = kernel default; applied to both ends */
	const uint8_t *mac;     /* this side, NULL = random */
	const uint8_t *peer_mac;/* NULL = random */
	int master;             /* enslave this side to it, 0 = none */
	bool up;                /* this side UP at creation */
	struct cnl_link *out;   /* when set: this side as created (NLM_F_ECHO);
				 * ifindex stays 0 on kernels without echo */
};
int cnl_veth_create(struct nl_sock *sk, const struct cnl_veth *v, struct cni_error *err);

/* Ensure a bridge `name` exists (created UP, with a pinned random MAC so
 * it does not follow its lowest port, mtu when non-zero, VLAN filtering
 * when asked). Race-safe: when another caller created it first (EEXIST)
 * the existing link is used if it is a bridge; otherwise the error is
 * `"<name>" already exists but is not a bridge` (CNI_ERR_EXISTS). An
 * existing bridge is brought UP; its MTU is not changed. A kernel without
 * bridge VLAN filtering gives CNI_ERR_KERNEL_FEATURE. *out is the bridge. */
int cnl_bridge_ensure(struct nl_sock *sk, const char *name, unsigned mtu, bool vlan_filtering,
		      struct cnl_link *out, struct cni_error *err);
/* Bridge port flags of a port; -1 leaves a flag unchanged. */
int cnl_bridge_port_set(struct nl_sock *sk, int ifindex, int hairpin, int isolated, struct cni_error *err);
/* VLANs lo..hi of a bridge port (vlan_filtering bridges): add with flags
 * (CNL_VLAN_PVID only with lo == hi), or delete (a range delete skips VIDs
 * the port does not have). */
enum { CNL_VLAN_PVID = 1, CNL_VLAN_UNTAGGED = 2 };
int cnl_bridge_vlan(struct nl_sock *sk, int ifindex, bool add, uint16_t lo, uint16_t hi, unsigned flags,
		    struct cni_error *err);

/* The VLANs of bridge port ifindex (AF_BRIDGE dump: walks every link of the
 * netns, for CHECK). vids and untagged are bitmaps of 4096 bits; *pvid is 0
 * without one. */
struct cnl_port_vlans {
	uint64_t vids[4096 / 64], untagged[4096 / 64];
	uint16_t pvid;
};
int cnl_bridge_port_vlans(struct nl_sock *sk, int ifindex, struct cnl_port_vlans *out, struct cni_error *err);

/* ---- traffic control (pkg/netlink/tc.c) ------------------------------ */

/* A token bucket: rate in bytes/s, limit in bytes, buffer in ticks. */
struct cnl_tbf {
	uint64_t rate;
	uint32_t limit, buffer;
};
/* Kernel ticks per microsecond (/proc/net/psched, as tc reads it). */
double cnl_tick_in_usec(void);
/* tbf as root qdisc, handle 1: (EEXIST when the link has a root qdisc). */
int cnl_tbf_add(struct nl_sock *sk, int ifindex, const struct cnl_tbf *tbf, struct cni_error *err);
/* the ingress qdisc, handle ffff: */
int cnl_ingress_qdisc_add(struct nl_sock *sk, int ifindex, struct cni_error *err);
/* delete the root (ingress false) or the ingress qdisc */
int cnl_qdisc_del(struct nl_sock *sk, int ifindex, bool ingress, struct cni_error *err);
/* on parent (ffff: of an ingress qdisc, ffff:fff2 of clsact) of ifindex,
 * prio 1, every protocol: u32 match-all, classid 1:1, mirred egress
 * redirect to to_ifindex */
int cnl_u32_redirect_all(struct nl_sock *sk, int ifindex, uint32_t parent, int to_ifindex, struct cni_error *err);
struct cnl_qdisc {
	char kind[16];
	uint32_t handle, parent;
	struct cnl_tbf tbf; /* kind "tbf" */
};
int cnl_qdisc_list(struct nl_sock *sk, int ifindex, struct cnl_qdisc **out, size_t *n, struct cni_error *err);
/* an ifb link, UP, txqlen 0, mtu when non-zero, IFLA_IFALIAS when set */
int cnl_ifb_create(struct nl_sock *sk, const char *name, unsigned mtu, const char *alias, struct cni_error *err);

/* ---- addresses -------------------------------------------------------- */

struct cnl_addr {
	struct cni_cidr cidr;
	unsigned flags;   /* IFA_F_* (TENTATIVE, DADFAILED, PERMANENT, ...) */
	int scope;        /* RT_SCOPE_* */
};
/* Add (EEXIST = CNI_ERR_EXISTS) / delete (missing = CNI_ERR_NOT_FOUND). IPv4
 * addresses get the broadcast address of their prefix, as iproute2 does. */
int cnl_addr_add(struct nl_sock *sk, int ifindex, const struct cni_cidr *a, struct cni_error *err);
/* Same with IFA_F_* flags, e.g. IFA_F_NODAD for an address this host owns
 * by construction (a bridge's gateway address: usable at once). */
int cnl_addr_add_flags(struct nl_sock *sk, int ifindex, const struct cni_cidr *a, unsigned flags,
		       struct cni_error *err);
int cnl_addr_del(struct nl_sock *sk, int ifindex, const struct cni_cidr *a, struct cni_error *err);
/* Addresses of one link (family AF_UNSPEC for both), filtered by the kernel. */
int cnl_addr_list_ex(struct nl_sock *sk, int ifindex, int family, struct cnl_addr **out, size_t *n,
		     struct cni_error *err);
/* Same, addresses only. *out is malloc'd. */
int cnl_addr_list(struct nl_sock *sk, int ifindex, int family, struct cni_cidr **out, size_t *n,
		  struct cni_error *err);

/* ---- routes ----------------------------------------------------------- */

struct cnl_route {
	struct cni_cidr dst;   /* family decides the route family; prefix 0 = default */
	struct cni_ip gw;      /* family 0 = none */
	struct cni_ip src;     /* preferred source, family 0 = none */
	int oif;               /* 0 = none */
	unsigned table;        /* 0 = main */
	int scope;             /* -1 = universe with a gateway, link without */
	unsigned priority;     /* metric, 0 = kernel default */
	unsigned mtu, advmss;  /* RTAX_*, 0 = unset */
	uint8_t type;          /* RTN_*, listing only */
	uint8_t protocol;      /* RTPROT_*, listing only */
};
#define CNL_ROUTE_INIT { .scope = -1 }
enum {
	CNL_ROUTE_EXCL = 0,    /* fail with CNI_ERR_EXISTS when present */
	CNL_ROUTE_APPEND = 1,  /* ECMP-append: same destination, another path */
	CNL_ROUTE_REPLACE = 2,
};
int cnl_route_add(struct nl_sock *sk, const struct cnl_route *r, int mode, struct cni_error *err);
int cnl_route_del(struct nl_sock *sk, const struct cnl_route *r, struct cni_error *err);
/* Routes leaving through oif (0 = any) of family (AF_UNSPEC = both) in
 * table (0 = every table). Multipath routes come out one entry per hop. */
int cnl_route_list(struct nl_sock *sk, int oif, int family, unsigned table, struct cnl_route **out, size_t *n,
		   struct cni_error *err);

/* ---- sysctls (of the calling thread's netns) -------------------------- */

/* A new instance of pseudo filesystem fstype ("proc", "cgroup2"), mounted
 * nowhere (fsopen/fsmount): its root as an O_PATH fd, or -1. Gone when
 * the fd is closed; sees what the caller's namespaces show. */
int cni_detached_mount(const char *fstype);

/* key in path form relative to /proc/sys, e.g. "net/ipv4/ip_forward" or
 * "net/ipv6/conf/eth0/accept_dad" (interface names may contain dots). */
int cni_sysctl_get(const char *key, char *buf, size_t len, struct cni_error *err);
/* Write only when the current value differs (writes can be costly and
 * some trigger kernel work even when unchanged). */
int cni_sysctl_set(const char *key, const char *value, struct cni_error *err);
/* Convenience: key built from a format. */
int cni_sysctl_setf(const char *value, struct cni_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Write without reading first: for an interface just created, whose
 * value is the kernel default we are changing, the read is one more open
 * of /proc/sys for nothing. */
int cni_sysctl_write(const char *key, const char *value, struct cni_error *err);
int cni_sysctl_writef(const char *value, struct cni_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* net.ipv4.ip_forward / net.ipv6.conf.all.forwarding = 1 unless already
 * on, read through sk (RTM_GETNETCONF, no /proc/sys lookup) when it can. */
int cnl_forwarding_ensure(struct nl_sock *sk, int family, struct cni_error *err);
/* Best effort: arp_notify=1 (netlink) and, with ndisc, IPv6 ndisc_notify=1
 * on a link of the calling thread's netns, each only when not yet set. */
void cnl_link_notify_peers_on(struct nl_sock *sk, const struct cnl_link *l, bool ndisc);

/* ---- bounded waits on kernel notifications ---------------------------- */

/* Wait until no IPv6 address of ifindex is TENTATIVE (DAD done). Subscribes
 * to IPv6 address notifications before looking, so no transition is lost,
 * and sleeps only in poll() until a notification or the deadline. Error on
 * DADFAILED, or when still tentative at the deadline. Uses a socket of the
 * calling thread's netns for the subscription. */
int cnl_wait_ipv6_settled(struct nl_sock *sk, int ifindex, int timeout_ms, struct cni_error *err);
/* Wait until a bridge port is operationally UP and no longer DISABLED in
 * the bridge (forwarding, or listening/learning under STP). The bridge
 * enables a port from the kernel's linkwatch work after the carrier
 * comes up, i.e. asynchronously after the peer is set UP. The caller
 * subscribes (cnl_link_watch_open, it closes the fd) before it sets the
 * link UP, so no query is needed: the notifications carry the state.
 * *out is the port's link as last seen. Error `bridge port in error
 * state: <state>` at the deadline. */
int cnl_link_watch_open(struct cni_error *err);
int cnl_wait_bridge_port_watch(struct nl_sock *sk, int watch_fd, int ifindex, int timeout_ms, struct cnl_link *out,
			       struct cni_error *err);

/* ---- applying an IPAM result (the reference's ConfigureIface) --------- */

/* Must run inside the interface's netns (it writes that netns' sysctls);
 * sk is a socket of that netns. Checks that every IP with an interface
 * index points at `ifname` (`invalid interface index` otherwise); before
 * the first IPv6 address sets disable_ipv6=0 on lo and ifname and
 * keep_addr_on_down=1 on ifname (written only when different); adds the
 * addresses, sets the link UP, waits for IPv6 DAD when an IPv6 gateway is
 * present (bounded, on notifications), then adds the routes with
 * ECMP-append semantics, a route without gw using the first gateway of its
 * family, and priority/table/scope of 1.1.0 routes (mtu/advmss too). */
int cnl_configure_iface(struct nl_sock *sk, const char *ifname, const struct cni_result *res, struct cni_error *err);
/* The same for a link the caller has just looked up (no second query). */
int cnl_configure_link(struct nl_sock *sk, const struct cnl_link *link, const struct cni_result *res,
		       struct cni_error *err);

/* CHECK (the reference's ValidateExpectedInterfaceIPs / ValidateExpectedRoute):
 * every address of res meant for `ifname` (entries with interface index
 * `iface` or without an index) is on ifindex; every route of res is in the
 * routing tables of sk's netns (same destination, and the gateway when res
 * names one). CNI_ERR_CHECK_FAILED naming the first missing one. */
int cnl_check_addresses(struct nl_sock *sk, int ifindex, const char *ifname, const struct cni_result *res,
			int iface, struct cni_error *err);
int cnl_check_routes(struct nl_sock *sk, const struct cni_result *res, struct cni_error *err);

/* Format / parse a MAC "aa:bb:cc:dd:ee:ff" ('-' separators accepted). */
const char *cnl_mac_fmt(const uint8_t mac[6], char buf[18]);
int cnl_mac_parse(const char *s, uint8_t mac[6]);

#endif
