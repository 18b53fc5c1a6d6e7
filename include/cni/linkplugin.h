/* The common frame of the link plugins (macvlan, ipvlan, vlan, dummy,
 * host-device, tap): open the container namespace once, finish an ADD after
 * the link exists (IPAM, addresses, routes, result; undo everything on
 * failure), the usual DEL and the CHECK of addresses and routes. */
#ifndef CNI_LINKPLUGIN_H
#define CNI_LINKPLUGIN_H

#include <stdbool.h>

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

/* After the link `link` (already named CNI_IFNAME in the container) exists:
 * IPAM ADD, sysctls, addresses, up, routes, result in call->result. Every
 * failure deletes the link (or runs undo_link) and releases IPAM. */
int lp_finish_add(struct lp_ctx *x, const struct cnl_link *link, const struct lp_add_opts *o);

/* DEL: IPAM DEL first when ipam_type (its error is returned, like the
 * reference), then delete CNI_IFNAME in the netns when it still exists.
 * Succeeds when the netns or the link is gone. */
int lp_del(struct cni_call *c, const char *ipam_type);

/* CHECK: prevResult required; the interface CNI_IFNAME with sandbox
 * CNI_NETNS; fills *link (in the container) and *iface (index in prev).
 * The plugin checks type/mode/MAC, then lp_check_ips checks IPs + routes. */
int lp_check_begin(struct lp_ctx *x, const char *ipam_type, struct cnl_link *link, int *iface);
int lp_check_ips(struct lp_ctx *x, const struct cnl_link *link, int iface);
/* prevResult MAC (if any) equals the link's. */
int lp_check_mac(struct lp_ctx *x, const struct cnl_link *link, int iface);

/* STATUS / GC: forward to IPAM when ipam.type is set. */
int lp_forward_ipam(struct cni_call *c);

/* MAC from runtimeConfig.mac > CNI_ARGS MAC > conf `mac` (NULL when none). */
const char *lp_mac_choice(struct cni_call *c, const char *conf_mac);

#endif
