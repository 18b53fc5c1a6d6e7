/* What the veth plugins (bridge, ptp) share: the veth pair with a random
 * host name, result interfaces, masquerade of the result's addresses, the
 * container side of DEL, the address/route part of CHECK, STATUS and GC. */
#ifndef CNI_VETHPLUGIN_H
#define CNI_VETHPLUGIN_H

#include <net/if.h>
#include <stdbool.h>

#include "cni/masq.h"
#include "cni/netlink.h"
#include "cni/plugin.h"
#include "cni/result.h"

/* CNI_NETNS opened, a netlink socket on the host and one in the netns.
 * On failure what was opened is left to the caller's cleanup. */
int vethp_open(const struct cni_call *c, int *nsfd, struct nl_sock **hsk, struct nl_sock **csk, struct cni_error *err);

/* Create the pair: host end "veth<8 hex>" (retried on a name collision),
 * UP, enslaved to master (0 = none); the peer created as CNI_IFNAME in
 * nsfd with peer_mac (NULL = random). A CNI_IFNAME that already exists in
 * the container is an error. */
int vethp_create(struct nl_sock *hsk, struct nl_sock *csk, int nsfd, const struct cni_call *c, unsigned mtu,
		 const uint8_t *peer_mac, int master, char host[IF_NAMESIZE], struct cni_error *err);
/* The same, the host end UP at creation only when host_up (a host end
 * created down can take IPv6 addrgenmode and port settings before it ever
 * has carrier, and goes UP once); *host_link (when not NULL) is the host
 * end as the kernel echoed it, ifindex 0 if the kernel did not. */
int vethp_create_ex(struct nl_sock *hsk, struct nl_sock *csk, int nsfd, const struct cni_call *c, unsigned mtu,
		    const uint8_t *peer_mac, int master, bool host_up, char host[IF_NAMESIZE], struct cnl_link *host_link,
		    struct cni_error *err);

/* Drop the result's interfaces (IPAM's), keeping IPs/routes/DNS. */
void vethp_result_clear_ifaces(struct cni_result *r);
/* MAC and MTU of result interface idx from the kernel's link. -1 on OOM. */
int vethp_fill_iface(struct cni_result *r, int idx, const struct cnl_link *l);

/* ADD tail: the config's `dns` (when any field is present) replaces
 * IPAM's, and the result goes to the frame. */
int vethp_add_result(struct cni_call *c, struct cni_result **res, struct cni_error *err);
/* ADD rollback, best effort, *err kept: masquerade entries (when nft),
 * the host veth (when host is not empty), IPAM (when ipam_type). */
void vethp_add_rollback(struct cni_call *c, struct cni_nft *nft, struct nl_sock *hsk, const char *host,
			const char *ipam_type, struct cni_error *err);

/* ipMasq: masquerade the addresses of ips[] (from a result) for this
 * attachment; *nft is opened when NULL (and left open for the caller). */
int vethp_masq_add(struct cni_nft **nft, const struct cni_call *c, const struct cni_ipconfig *ips, size_t n,
		   struct cni_error *err);
int vethp_masq_check(const struct cni_call *c, const struct cni_ipconfig *ips, size_t n, struct cni_error *err);

/* DEL, container side: delete CNI_IFNAME in the netns (its peer goes with
 * it); when the netns is gone (or not given) delete the host end named in
 * prevResult if it is still a veth (with master when master_name is not
 * NULL). The first error goes to *first unless one is there. */
void vethp_del_container(const struct cni_call *c, const char *master_name, struct cni_error *first);

/* CHECK: an error of code CNI_ERR_CHECK_FAILED. */
int vethp_check_failed(struct cni_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* CHECK: every prevResult IP of interface ci is on link ifindex (of csk),
 * every prevResult route is there. */
int vethp_check_addrs_routes(struct nl_sock *csk, int ifindex, const char *ifname, const struct cni_result *p, int ci,
			     struct cni_error *err);

/* STATUS: IPAM's, if any. */
int vethp_status(struct cni_call *c);
/* GC: masquerade entries of attachments not in the valid list (ipMasq),
 * then `extra` (may be NULL) with the valid list, then IPAM's GC. The
 * first error is reported; every step runs. */
typedef void (*vethp_gc_fn)(struct cni_call *c, const struct cni_attachment *valid, size_t n, bool present,
			    struct cni_error *first);
int vethp_gc(struct cni_call *c, vethp_gc_fn extra);

#endif
