/* Outbound masquerade for bridge/ptp containers, in nftables (libnftnl).
 *
 * One table of this suite's own, one rule per network and family, the
 * container addresses as set elements tagged with (container id, ifname).
 * Every call is one nft transaction. The cost of an add/del does not grow
 * with the number of containers. */
#ifndef CNI_MASQ_H
#define CNI_MASQ_H

#include <stddef.h>

#include "cni/common.h"
#include "cni/ip.h"
#include "cni/plugin.h"

/* An nfnetlink socket. Closing it after a deletion may wait for an RCU grace
 * period (kernel-floor.md section 4), so a plugin opens it once and closes
 * it last (after a veth delete, whose own barrier covers that wait). */
struct cni_nft;
struct cni_nft *cni_nft_open(struct cni_error *err);
void cni_nft_close(struct cni_nft *nft);
static inline void cni_nft_closep(struct cni_nft **n) { if (*n) cni_nft_close(*n); }
#define _cleanup_nft_ _cleanup_(cni_nft_closep)

/* Masquerade traffic from each address of `ips` (address/prefix: the prefix
 * gives the container's subnet) to destinations outside that subnet,
 * multicast excluded. Re-adding an attachment replaces its entries. */
int masq_add(struct cni_nft *nft, const char *net, const char *cid, const char *ifname,
	     const struct cni_cidr *ips, size_t n, struct cni_error *err);
/* Remove what masq_add installed for (net, cid, ifname). Needs no address
 * (works when the netns is gone); success when nothing is there. */
int masq_del(struct cni_nft *nft, const char *net, const char *cid, const char *ifname, struct cni_error *err);
/* CHECK: every address of ips is masqueraded for this attachment. */
int masq_check(struct cni_nft *nft, const char *net, const char *cid, const char *ifname,
	       const struct cni_cidr *ips, size_t n, struct cni_error *err);
/* GC: remove entries of network `net` whose attachment is not in `valid`;
 * when no attachment of the network is left, its rules and sets go too. */
int masq_gc(struct cni_nft *nft, const char *net, const struct cni_attachment *valid, size_t n_valid,
	    struct cni_error *err);

#endif
