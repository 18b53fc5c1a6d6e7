/* Bridge plugin filtering in nftables (libnftnl): Docker-style internal
 * networks and MAC spoof checking. See pkg/netfilter/README.md for the
 * layout. Every call is one nft transaction whose cost does not grow with
 * the number of containers on the node. */
#ifndef CNI_BRIDGEFW_H
#define CNI_BRIDGEFW_H

#include <stdint.h>

#include "cni/masq.h"
#include "cni/plugin.h"

/* ---- internal networks (table inet cni_c, socket from cni_nft_open) ----
 *
 * A bridge marked internal forwards only to itself: routed traffic from the
 * bridge to any other interface, and to the bridge from any other
 * interface, is dropped. The mark is per bridge (not per container): added
 * by every ADD (idempotent, nothing is sent when it is already there), left
 * in place by DEL (other containers may still use the bridge, which the
 * plugin never deletes), removed by GC once the bridge is gone. The mark
 * remembers the bridge's ifindex: a mark left by a deleted bridge of the
 * same name is stale, replaced by an internal ADD and removed by GC. */
int internal_br_add(struct cni_nft *nft, const char *bridge, int ifindex, struct cni_error *err);
/* CHECK: the bridge is marked (with this ifindex). */
int internal_br_check(struct cni_nft *nft, const char *bridge, int ifindex, struct cni_error *err);
/* GC: remove the mark when the bridge is gone (ifindex 0) or the mark is
 * another bridge's (ifindex differs). */
int internal_br_gc(struct cni_nft *nft, const char *bridge, int ifindex, struct cni_error *err);

/* ---- macspoofchk (table bridge cni_c, socket from
 * cni_nft_open_family(NFPROTO_BRIDGE)) ----
 *
 * Frames entering the bridge from host veth `hostveth` with a source MAC
 * other than `mac` are dropped (bridge prerouting, priority -300). Elements
 * are tagged with the attachment; DEL needs no netns or MAC. */
struct cni_nft *spoofchk_open(struct cni_error *err);
int spoofchk_add(struct cni_nft *nft, const char *net, const char *cid, const char *ifname, const char *hostveth,
		 const uint8_t mac[6], struct cni_error *err);
int spoofchk_del(struct cni_nft *nft, const char *net, const char *cid, const char *ifname, struct cni_error *err);
int spoofchk_check(struct cni_nft *nft, const char *net, const char *cid, const char *ifname, const char *hostveth,
		   const uint8_t mac[6], struct cni_error *err);
int spoofchk_gc(struct cni_nft *nft, const char *net, const struct cni_attachment *valid, size_t n_valid,
		struct cni_error *err);

#endif
