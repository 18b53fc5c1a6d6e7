/* conditionsV4 / conditionsV6: the common matches, in both spellings.
 *
 *   iptables: [!] -s|--source CIDR   [!] -d|--destination CIDR   [!] -i|--in-interface NAME
 *   nft:      ip|ip6 saddr|daddr [==|!=] CIDR   [meta] iifname [==|!=] NAME
 *
 * NAME may end in '*' (prefix match). Anything else is refused with code 2
 * naming the token: a silently ignored condition would publish a port wider
 * than the operator asked for. */
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>

#include "portmap.h"

static int addr(const char *key, const char *tok, int family, struct cni_cidr *out, struct cni_error *err)
{
	bool had;
	if (!tok)
		return cni_errorf(err, CNI_ERR_UNSUPPORTED_FIELD, "%s: missing address after a match", key);
	if (cni_ip_or_cidr_parse(tok, out, &had) < 0)
		return cni_errorf(err, CNI_ERR_UNSUPPORTED_FIELD, "%s: \"%s\" is not an address or CIDR", key, tok);
	if (!had)
		out->prefix = cni_ip_bits(&out->ip);
	if (out->ip.family != family)
		return cni_errorf(err, CNI_ERR_UNSUPPORTED_FIELD, "%s: address \"%s\" is of the wrong family", key, tok);
	*out = cni_cidr_network(out);
	return 0;
}

static int iface(const char *key, const char *tok, struct pm_cond *c, struct cni_error *err)
{
	if (!tok || !*tok)
		return cni_errorf(err, CNI_ERR_UNSUPPORTED_FIELD, "%s: missing interface name", key);
	size_t l = strlen(tok);
	if (tok[0] == '"' && l >= 2 && tok[l - 1] == '"') {
		tok++;
		l -= 2;
	}
	if (l && tok[l - 1] == '*') {
		c->wildcard = true;
		l--;
	}
	if (l >= IFNAMSIZ)
		return cni_errorf(err, CNI_ERR_UNSUPPORTED_FIELD, "%s: interface name \"%s\" too long", key, tok);
	memcpy(c->ifname, tok, l);
	c->ifname[l] = 0;
	return 0;
}

int pm_conditions_parse(const json_t *list, const char *key, int family, struct pm_cond **out, size_t *n,
			struct cni_error *err)
{
	*out = NULL;
	*n = 0;
	if (!list)
		return 0;
	if (!json_is_array(list))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "%s must be a list of strings", key);
	size_t len = json_array_size(list);
	const char **tok = cni_xcalloc(len + 1, sizeof(*tok));
	struct pm_cond *c = cni_xcalloc(len + 1, sizeof(*c));
	if (!tok || !c) {
		free(tok);
		free(c);
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	int ret = 0;
	for (size_t i = 0; i < len && !ret; i++) {
		tok[i] = json_string_value(json_array_get(list, i));
		if (!tok[i])
			ret = cni_errorf(err, CNI_ERR_INVALID_CONFIG, "%s must be a list of strings", key);
	}
	bool ipt = len && (tok[0][0] == '-' || tok[0][0] == '!');
	size_t i = 0, k = 0;
	while (!ret && i < len) {
		struct pm_cond *cc = &c[k];
		memset(cc, 0, sizeof(*cc));
		if (ipt) {
			if (!strcmp(tok[i], "!")) {
				cc->neg = true;
				i++;
			}
			const char *o = i < len ? tok[i] : "";
			const char *v = i + 1 < len ? tok[i + 1] : NULL;
			if (!strcmp(o, "-s") || !strcmp(o, "--source") || !strcmp(o, "--src")) {
				cc->what = PM_SADDR;
				ret = addr(key, v, family, &cc->cidr, err);
			} else if (!strcmp(o, "-d") || !strcmp(o, "--destination") || !strcmp(o, "--dst")) {
				cc->what = PM_DADDR;
				ret = addr(key, v, family, &cc->cidr, err);
			} else if (!strcmp(o, "-i") || !strcmp(o, "--in-interface")) {
				cc->what = PM_IIFNAME;
				ret = iface(key, v, cc, err);
			} else {
				ret = cni_errorf(err, CNI_ERR_UNSUPPORTED_FIELD,
						 "%s: unsupported iptables match \"%s\" (supported: -s, -d, -i, with optional !)",
						 key, o);
			}
			i += 2;
		} else {
			const char *t = tok[i];
			if (!strcmp(t, "meta") && i + 1 < len && !strcmp(tok[i + 1], "iifname"))
				t = tok[++i];
			if (!strcmp(t, "ip") || !strcmp(t, "ip6")) {
				if ((family == AF_INET) != !strcmp(t, "ip")) {
					ret = cni_errorf(err, CNI_ERR_UNSUPPORTED_FIELD, "%s: \"%s\" match in the wrong family",
							 key, t);
					break;
				}
				const char *f = i + 1 < len ? tok[i + 1] : "";
				if (!strcmp(f, "saddr"))
					cc->what = PM_SADDR;
				else if (!strcmp(f, "daddr"))
					cc->what = PM_DADDR;
				else {
					ret = cni_errorf(err, CNI_ERR_UNSUPPORTED_FIELD,
							 "%s: unsupported nft match \"%s %s\" (supported: saddr, daddr)", key, t, f);
					break;
				}
				i += 2;
			} else if (!strcmp(t, "iifname")) {
				cc->what = PM_IIFNAME;
				i += 1;
			} else {
				ret = cni_errorf(err, CNI_ERR_UNSUPPORTED_FIELD,
						 "%s: unsupported nft match \"%s\" (supported: ip/ip6 saddr/daddr, iifname)", key, t);
				break;
			}
			if (i < len && (!strcmp(tok[i], "!=") || !strcmp(tok[i], "=="))) {
				cc->neg = tok[i][0] == '!';
				i++;
			}
			const char *v = i < len ? tok[i] : NULL;
			ret = cc->what == PM_IIFNAME ? iface(key, v, cc, err) : addr(key, v, family, &cc->cidr, err);
			i++;
		}
		k++;
	}
	free(tok);
	if (ret) {
		free(c);
		return -1;
	}
	*out = c;
	*n = k;
	return 0;
}

void pm_conditions_emit(struct nftnl_rule *r, int family, const struct pm_cond *c, size_t n)
{
	bool v4 = family == AF_INET;
	for (size_t i = 0; i < n; i++) {
		uint32_t op = c[i].neg ? NFT_CMP_NEQ : NFT_CMP_EQ;
		if (c[i].what == PM_IIFNAME) {
			char name[IFNAMSIZ] = { 0 };
			size_t l = strlen(c[i].ifname);
			memcpy(name, c[i].ifname, l);
			nftr_meta(r, NFT_META_IIFNAME, NFT_REG_1);
			nftr_cmp(r, NFT_REG_1, op, name, (uint32_t)(c[i].wildcard ? l : IFNAMSIZ));
			continue;
		}
		uint32_t alen = v4 ? 4 : 16;
		uint32_t off = c[i].what == PM_SADDR ? (v4 ? 12 : 8) : (v4 ? 16 : 24);
		nftr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, alen, NFT_REG_1);
		if (c[i].cidr.prefix < (int)alen * 8) {
			uint8_t mask[16] = { 0 };
			for (int b = 0; b < c[i].cidr.prefix; b++)
				mask[b / 8] |= (uint8_t)(0x80 >> (b % 8));
			nftr_bitwise(r, NFT_REG_1, NFT_REG_1, mask, alen);
		}
		nftr_cmp(r, NFT_REG_1, op, c[i].cidr.ip.b, alen);
	}
}
