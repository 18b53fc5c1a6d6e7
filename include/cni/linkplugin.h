/* The common frame of the link plugins (macvlan, ipvlan, vlan, dummy,
 * host-device, tap): open the container namespace once, finish an ADD after
 * the link exists (IPAM, addresses, routes, result; undo everything on
 * failure), the usual DEL, the CHECK of interface, MAC, addresses and
 * routes, and the config keys several of them share. A plugin's main.c
 * keeps its config, how it creates its link and what it checks. */
#ifndef CNI_LINKPLUGIN_H
#define CNI_LINKPLUGIN_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "cni/plugin.h"
#include "cni/sublink.h"

struct lp_ctx {
	struct cni_call *call;
	int nsfd;                 /* container netns */
	struct nl_sock *sk_host;  /* socket in the plugin's netns */
	struct nl_sock *sk_ct;    /* socket in the container netns */
};

/* Open CNI_NETNS and both sockets. */
int lp_open(struct cni_call *c, struct lp_ctx *x);
void lp_close(struct lp_ctx *x);

enum lp_dns { LP_DNS_CONF, LP_DNS_IPAM_UNLESS_CONF, LP_DNS_IPAM };

struct lp_add_opts {
	const char *ipam_type;     /* NULL = L2 unless static_ips */
	const struct cni_result *static_ips; /* applied when no ipam_type (ipvlan: prevResult) */
	enum lp_dns dns;           /* where the result's dns comes from */
	bool notify_sysctls;       /* arp_notify=1, ndisc_notify=1 */
	bool ipv6_ndisc_notify;    /* with notify_sysctls: also ndisc_notify */
	bool bring_up_l2;          /* set the link up when no IPs are applied */
	const char *link_kind;     /* for messages ("macvlan") */
	/* called on failure after the link exists, instead of deleting it
	 * (host-device gives the device back); NULL = delete */
	int (*undo_link)(struct lp_ctx *x, const struct cnl_link *link, void *arg);
	void *undo_arg;
};

/* The ADD and CHECK of a link plugin, driven by what the plugin adds. conf
 * is the plugin's own config struct, passed back to the callbacks. */
struct lp_spec {
	/* CHECK: the IFLA_INFO_KIND the container link must have; NULL = any
	 * (the plugin's check says what it needs). */
	const char *kind;
	/* Parse and resolve the config, the sockets open (ADD, CHECK). NULL
	 * when the plugin loaded conf before calling lp_add/lp_check. */
	int (*load)(struct lp_ctx *x, void *conf);
	/* ADD: the link named CNI_IFNAME in the container, and how to finish:
	 * then IPAM ADD, sysctls, addresses, up, routes, result. Every failure
	 * after this deletes the link (or runs o->undo_link) and releases IPAM. */
	int (*create)(struct lp_ctx *x, void *conf, struct cnl_link *link, struct lp_add_opts *o);
	/* CHECK: the plugin's comparisons after the kind (may be NULL). */
	int (*check)(struct lp_ctx *x, void *conf, const struct cnl_link *link);
};
/* open, load, create, then IPAM, addresses, routes and the result; close */
int lp_add(struct cni_call *c, const struct lp_spec *s, void *conf);
/* open, load, IPAM CHECK (ipam.type), the prevResult interface, kind, the
 * plugin's check, MAC, addresses and routes, close */
int lp_check(struct cni_call *c, const struct lp_spec *s, void *conf);

/* DEL: IPAM DEL first when ipam.type is set (its error is returned, like
 * the reference), then delete CNI_IFNAME in the netns when it still exists.
 * Succeeds when the netns or the link is gone. Needs nothing else of the
 * config (no master, no netns lookup beyond CNI_NETNS). */
int lp_del(struct cni_call *c);

/* STATUS / GC: forward to IPAM when ipam.type is set. */
int lp_forward_ipam(struct cni_call *c);

/* ---- keys several link plugins share ---- */

/* MAC from runtimeConfig.mac > CNI_ARGS MAC > conf `mac` (conf_mac, may be
 * NULL). *has_mac false when none; "invalid args <mac> for MAC addr" when
 * the chosen one does not parse. */
int lp_mac(struct cni_call *c, const char *conf_mac, uint8_t mac[6], bool *has_mac);

/* master, mtu and linkInContainer (macvlan, ipvlan, vlan). */
struct lp_master {
	const char *name;         /* as configured, then as resolved */
	char buf[IF_NAMESIZE];
	long long mtu;
	bool in_container;        /* linkInContainer: the master is in the container netns */
	struct cnl_link link;     /* after lp_master_resolve */
};
int lp_master_parse(struct cni_call *c, struct lp_master *m);
/* Look the master up in its netns; an unset name becomes the interface of
 * the default route there. mtu_max: mtu must be in [0, master MTU]. */
int lp_master_resolve(struct lp_ctx *x, struct lp_master *m, bool mtu_max);
/* Create spec as CNI_IFNAME in the container: sent in the master's netns
 * (the container's when in_container, spec->ns_fd then unused). */
int lp_create_sublink(struct lp_ctx *x, struct sublink_spec *spec, bool in_container, struct cnl_link *link);

#endif
