/* Outbound masquerade (include/cni/masq.h) in table inet cni_c:
 *
 *   chain masq_postrouting { type nat hook postrouting priority srcnat; }
 *   set masq4_<net>    { type ipv4_addr; flags timeout; }   container addresses,
 *                                                          comment "<net>/<cid>/<ifname>"
 *   set masqnet4_<net> { type ipv4_addr; flags interval; }  the network's subnets
 *   rule: meta nfproto ipv4 ip saddr @masq4_<net> ip daddr & 240.0.0.0 != 224.0.0.0
 *         ip daddr != @masqnet4_<net> masquerade
 *   (same with 6 / ip6 / ff00::/8)
 *
 * The per-network set and its rule are created together, the set with
 * NLM_F_EXCL, so exactly one process creates the rule even when many ADDs
 * race. Subnet elements are network-level (shared by containers): added
 * when missing, never removed by a DEL (harmless), rebuilt by nothing. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter_ipv4.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cni/masq.h"
#include "cni/nft.h"

#define MASQ_CHAIN "masq_postrouting"
#define KIND "masq"

static void set_names(const char *net, int family, char set[NFT_NAME_MAX], char nets[NFT_NAME_MAX])
{
	nft_name(set, family == AF_INET ? "masq4_" : "masq6_", net);
	nft_name(nets, family == AF_INET ? "masqnet4_" : "masqnet6_", net);
}

/* Table, chain, the family's two sets (address set with EXCL) and rule. */
static int queue_network(struct nft_batch *b, const char *net, int family)
{
	char set[NFT_NAME_MAX], nets[NFT_NAME_MAX], comment[300];
	set_names(net, family, set, nets);
	bool v4 = family == AF_INET;
	uint32_t alen = v4 ? 4 : 16, atype = v4 ? NFT_TYPE_IPADDR : NFT_TYPE_IP6ADDR;

	struct nftnl_set *s = nft_set_new(set, NFT_SET_TIMEOUT, atype, alen, 0, 0);
	struct nftnl_set *sn = nft_set_new(nets, NFT_SET_INTERVAL, atype, alen, 0, 0);
	snprintf(comment, sizeof(comment), "cni-c masquerade %s %s", v4 ? "ipv4" : "ipv6", net);
	struct nftnl_rule *r = nft_rule_new(MASQ_CHAIN, comment);
	if (!s || !sn || !r) {
		nftnl_set_free(s);
		nftnl_set_free(sn);
		nftnl_rule_free(r);
		return -1;
	}
	nftb_set(b, s, NLM_F_EXCL);
	nftb_set(b, sn, 0);
	nftr_nfproto(r, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
	nftr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 12 : 8, alen, NFT_REG_1);
	nftr_lookup(r, NFT_REG_1, set, 0, false);
	/* multicast destinations excluded */
	if (v4) {
		static const uint8_t mask[4] = { 0xf0 }, mc[4] = { 0xe0 };
		nftr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1);
		nftr_bitwise(r, NFT_REG_1, NFT_REG_1, mask, 4);
		nftr_cmp(r, NFT_REG_1, NFT_CMP_NEQ, mc, 4);
	} else {
		static const uint8_t mc = 0xff;
		nftr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 1, NFT_REG_1);
		nftr_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &mc, 1);
	}
	nftr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 16 : 24, alen, NFT_REG_1);
	nftr_lookup(r, NFT_REG_1, nets, 0, true);
	nftr_masq(r);
	nftb_rule(b, r);
	nftnl_set_free(s);
	nftnl_set_free(sn);
	nftnl_rule_free(r);
	return 0;
}

static bool has_family(const struct cni_cidr *ips, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (ips[i].ip.family == family)
			return true;
	return false;
}

static int masq_add_once(struct cni_nft *nft, const char *net, const char *tag, const struct cni_cidr *ips, size_t n,
			 const struct nft_owned *old, size_t n_old, int *errnum, struct cni_error *err)
{
	_cleanup_batch_ struct nft_batch b;
	nftb_init(&b, nft);
	static const int fams[2] = { AF_INET, AF_INET6 };
	for (int f = 0; f < 2; f++) {
		int family = fams[f];
		if (!has_family(ips, n, family))
			continue;
		char set[NFT_NAME_MAX], nets[NFT_NAME_MAX];
		set_names(net, family, set, nets);
		int ex = nft_set_exists(nft, set, err);
		if (ex < 0)
			return -1;
		if (!ex) {
			nftb_table(&b);
			nftb_chain(&b, MASQ_CHAIN, NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC, "nat");
			if (queue_network(&b, net, family) < 0)
				return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		}
		struct nftnl_set *s = nftnl_set_alloc(), *sn = nftnl_set_alloc(), *sd = nftnl_set_alloc();
		if (!s || !sn || !sd) {
			nftnl_set_free(s);
			nftnl_set_free(sn);
			nftnl_set_free(sd);
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		}
		nftnl_set_set_str(s, NFTNL_SET_TABLE, CNI_NFT_TABLE);
		nftnl_set_set_str(s, NFTNL_SET_NAME, set);
		nftnl_set_set_str(sd, NFTNL_SET_TABLE, CNI_NFT_TABLE);
		nftnl_set_set_str(sd, NFTNL_SET_NAME, set);
		nftnl_set_set_str(sn, NFTNL_SET_TABLE, CNI_NFT_TABLE);
		nftnl_set_set_str(sn, NFTNL_SET_NAME, nets);
		int n_add = 0, n_del = 0, n_net = 0, rc = 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (ips[i].ip.family != family)
				continue;
			size_t len = (size_t)cni_ip_len(&ips[i].ip);
			if (ex) {
				struct nft_elem_info info;
				int r = nft_elem_get(nft, set, ips[i].ip.b, len, &info, err);
				if (r < 0) {
					rc = -1;
					break;
				}
				if (r == 1 && !strcmp(info.tag, tag) && !info.expiring)
					goto subnet; /* already ours */
				if (r == 1) {
					/* a stale owner (its DEL never came), or our own
					 * element released by a DEL a moment ago and about
					 * to expire: replace it */
					nft_elem_add(sd, ips[i].ip.b, len, NULL, NULL, 0, NULL, 0, 0);
					n_del++;
				}
			}
			if (nft_elem_add(s, ips[i].ip.b, len, NULL, NULL, 0, tag, 0, 0) < 0)
				rc = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			n_add++;
subnet:
			if (ex) {
				struct cni_cidr nw = cni_cidr_network(&ips[i]);
				int r = nft_elem_get(nft, nets, nw.ip.b, len, NULL, err);
				if (r < 0) {
					rc = -1;
					break;
				}
				if (r == 1)
					continue;
			}
			if (nft_elem_add_prefix(sn, &ips[i]) < 0)
				rc = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			n_net++;
		}
		if (rc == 0) {
			if (n_del)
				nftb_elems(&b, NFT_MSG_DESTROYSETELEM, sd, 0);
			if (n_add)
				nftb_elems(&b, NFT_MSG_NEWSETELEM, s, NLM_F_EXCL);
			if (n_net)
				nftb_elems(&b, NFT_MSG_NEWSETELEM, sn, 0);
		}
		nftnl_set_free(s);
		nftnl_set_free(sn);
		nftnl_set_free(sd);
		if (rc < 0)
			return -1;
	}
	/* entries of an earlier ADD of this attachment that are not wanted now */
	if (n_old) {
		_cleanup_free_ struct nft_owned *drop = cni_xcalloc(n_old, sizeof(*drop));
		size_t nd = 0;
		if (!drop)
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		for (size_t j = 0; j < n_old; j++) {
			bool keep = false;
			for (size_t i = 0; i < n; i++)
				if (old[j].keylen == (uint32_t)cni_ip_len(&ips[i].ip) &&
				    !memcmp(old[j].key, ips[i].ip.b, old[j].keylen))
					keep = true;
			if (!keep)
				drop[nd++] = old[j];
		}
		if (nd && nft_queue_release(nft, &b, drop, nd, tag, err) < 0)
			return -1;
	}
	return nftb_commit(&b, errnum, err);
}

static int validate(const char *net, const char *cid, const char *ifname, struct cni_error *err)
{
	if (!net || !*net || strchr(net, '/') || !cid || !*cid || strchr(cid, '/') || !ifname || !*ifname ||
	    strchr(ifname, '/'))
		return cni_errorf(err, CNI_ERR_INTERNAL, "masquerade: bad network, container id or ifname");
	return 0;
}

int masq_add(struct cni_nft *nft, const char *net, const char *cid, const char *ifname, const struct cni_cidr *ips,
	     size_t n, struct cni_error *err)
{
	if (validate(net, cid, ifname, err) < 0)
		return -1;
	char tag[NFT_TAG_MAX], path[4400];
	nft_tag(tag, net, cid, ifname);
	if (nft_record_path(path, sizeof(path), KIND, net, cid, ifname) < 0)
		return cni_errorf(err, CNI_ERR_INTERNAL, "masquerade: record path too long");

	_cleanup_free_ struct nft_owned *old = NULL;
	size_t n_old = 0;
	bool present;
	if (nft_record_read(path, &old, &n_old, NULL, NULL, NULL, &present, err) < 0)
		return -1;

	/* the record first: a crash after the commit must not leak elements */
	_cleanup_free_ struct nft_owned *own = cni_xcalloc(n + n_old, sizeof(*own));
	if (!own)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	size_t n_own = 0;
	for (size_t i = 0; i < n; i++) {
		struct nft_owned *o = &own[n_own++];
		char nets[NFT_NAME_MAX];
		set_names(net, ips[i].ip.family, o->set, nets);
		o->keylen = (uint32_t)cni_ip_len(&ips[i].ip);
		memcpy(o->key, ips[i].ip.b, o->keylen);
	}
	for (size_t j = 0; j < n_old; j++)
		own[n_own++] = old[j]; /* until the commit has dropped them */
	if (nft_record_write(path, cid, ifname, own, n_own, NULL, err) < 0)
		return -1;

	int errnum = 0;
	for (int attempt = 0; attempt < 4; attempt++) {
		/* EEXIST: another process created the network's set or took an
		 * address between our look and our commit; look again. */
		if (masq_add_once(nft, net, tag, ips, n, old, n_old, &errnum, err) == 0)
			return n_old ? nft_record_write(path, cid, ifname, own, n, NULL, err) : 0;
		if (errnum != EEXIST)
			break;
		cni_error_clear(err);
	}
	return cni_error_wrap(err, "masquerade for network %s", net);
}

int masq_del(struct cni_nft *nft, const char *net, const char *cid, const char *ifname, struct cni_error *err)
{
	if (validate(net, cid, ifname, err) < 0)
		return -1;
	char tag[NFT_TAG_MAX], path[4400];
	nft_tag(tag, net, cid, ifname);
	if (nft_record_path(path, sizeof(path), KIND, net, cid, ifname) < 0)
		return cni_errorf(err, CNI_ERR_INTERNAL, "masquerade: record path too long");
	_cleanup_free_ struct nft_owned *el = NULL;
	size_t n = 0;
	bool present;
	if (nft_record_read(path, &el, &n, NULL, NULL, NULL, &present, err) < 0)
		return -1;
	if (!present)
		return 0;
	_cleanup_batch_ struct nft_batch b;
	nftb_init(&b, nft);
	if (nft_queue_release(nft, &b, el, n, tag, err) < 0 || nftb_commit(&b, NULL, err) < 0)
		return cni_error_wrap(err, "removing masquerade for network %s", net);
	if (unlink(path) < 0 && errno != ENOENT)
		return cni_errorf_errno(err, CNI_ERR_IO, errno, "cannot remove %s", path);
	return 0;
}

int masq_check(struct cni_nft *nft, const char *net, const char *cid, const char *ifname, const struct cni_cidr *ips,
	       size_t n, struct cni_error *err)
{
	if (validate(net, cid, ifname, err) < 0)
		return -1;
	char tag[NFT_TAG_MAX];
	nft_tag(tag, net, cid, ifname);
	for (size_t i = 0; i < n; i++) {
		char set[NFT_NAME_MAX], nets[NFT_NAME_MAX], ipb[CNI_IP_STRLEN];
		set_names(net, ips[i].ip.family, set, nets);
		struct nft_elem_info info;
		int r = nft_elem_get(nft, set, ips[i].ip.b, (size_t)cni_ip_len(&ips[i].ip), &info, err);
		if (r < 0)
			return -1;
		if (r == 0 || info.expiring)
			return cni_errorf(err, CNI_ERR_CHECK_FAILED,
					  "masquerade for %s of network %s is missing (set inet %s %s)",
					  cni_ip_fmt(&ips[i].ip, ipb), net, CNI_NFT_TABLE, set);
		if (strcmp(info.tag, tag))
			return cni_errorf(err, CNI_ERR_CHECK_FAILED, "masquerade for %s belongs to \"%s\", not \"%s\"",
					  cni_ip_fmt(&ips[i].ip, ipb), info.tag, tag);
	}
	return 0;
}

static int count_live(void *arg, const struct nft_elem_info *e)
{
	if (!e->expiring)
		(*(int *)arg)++;
	return 0;
}

/* After a GC: a network with no attachment left loses its rules and sets
 * (GC of a network is exclusive with its ADD/DEL, spec section GC). */
static int drop_network_if_empty(struct cni_nft *nft, const char *net, struct cni_error *err)
{
	char dir[4096];
	if (nft_record_dir(dir, sizeof(dir), KIND, net) == 0 && rmdir(dir) < 0 && errno != ENOENT)
		return 0; /* records remain: attachments still live */
	_cleanup_batch_ struct nft_batch b;
	nftb_init(&b, nft);
	static const int fams[2] = { AF_INET, AF_INET6 };
	for (int f = 0; f < 2; f++) {
		char set[NFT_NAME_MAX], nets[NFT_NAME_MAX], comment[300];
		set_names(net, fams[f], set, nets);
		int ex = nft_set_exists(nft, set, err);
		if (ex < 0)
			return -1;
		if (!ex)
			continue;
		int live = 0;
		if (nft_elem_dump(nft, set, count_live, &live, err) < 0)
			return -1;
		if (live)
			return 0;
		snprintf(comment, sizeof(comment), "cni-c masquerade %s %s", fams[f] == AF_INET ? "ipv4" : "ipv6", net);
		if (nftb_del_rules_by_comment(&b, MASQ_CHAIN, comment, err) < 0)
			return -1;
		nftb_del_set(&b, set);
		nftb_del_set(&b, nets);
	}
	return nftb_commit(&b, NULL, err);
}

int masq_gc(struct cni_nft *nft, const char *net, const struct cni_attachment *valid, size_t n_valid,
	    struct cni_error *err)
{
	char s4[NFT_NAME_MAX], s6[NFT_NAME_MAX], x[NFT_NAME_MAX];
	set_names(net, AF_INET, s4, x);
	set_names(net, AF_INET6, s6, x);
	const char *sets[2] = { s4, s6 };
	if (nft_gc_sets(nft, sets, 2, KIND, net, valid, n_valid, err) < 0 ||
	    drop_network_if_empty(nft, net, err) < 0)
		return cni_error_wrap(err, "masquerade GC for network %s", net);
	return 0;
}
