/* portmap internals shared by main.c and conditions.c */
#ifndef PORTMAP_H
#define PORTMAP_H

#include <jansson.h>
#include <net/if.h>

#include "cni/ip.h"
#include "cni/nft.h"

/* One translated match of conditionsV4/V6. */
struct pm_cond {
	enum { PM_SADDR, PM_DADDR, PM_IIFNAME } what;
	bool neg;
	struct cni_cidr cidr;
	char ifname[IFNAMSIZ];
	bool wildcard; /* ifname ends in '*' */
};

/* Parse a conditions list (iptables style when the first token starts with
 * '-' or '!', nft style otherwise). Unknown matches: code 2 naming them. */
int pm_conditions_parse(const json_t *list, const char *key, int family, struct pm_cond **out, size_t *n,
			struct cni_error *err);
/* Emit the matches into a rule (clobbers NFT_REG_1). */
void pm_conditions_emit(struct nftnl_rule *r, int family, const struct pm_cond *c, size_t n);

#endif
