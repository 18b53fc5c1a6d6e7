/* Internal networks and macspoofchk for the bridge plugin (include/cni/bridgefw.h).
 *
 * table inet cni_c:
 *   chain internal_forward { type filter hook forward priority filter; }
 *   set internal_br   { type ifname; }            bridge name, comment "ifindex <n>"
 *   set internal_pair { type ifname . ifname; }   (bridge . bridge)
 *   iifname @internal_br iifname . oifname != @internal_pair drop
 *   oifname @internal_br oifname . iifname != @internal_pair drop
 *
 * table bridge cni_c:
 *   chain spoofchk_prerouting { type filter hook prerouting priority -300; }
 *   set spoofchk_ifaces  { type ifname; flags timeout; }               host veth
 *   set spoofchk_allowed { type ifname . ether_addr; flags timeout; }  host veth . container MAC
 *   iifname @spoofchk_ifaces iifname . ether saddr != @spoofchk_allowed drop
 *
 * Base objects and rules are created once, in the transaction that creates
 * the first set with NLM_F_EXCL (exactly one of racing ADDs wins; the others
 * get EEXIST and retry as element adds), as in masq.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/udata.h>
#include <linux/netfilter_ipv4.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cni/bridgefw.h"
#include "cni/nft.h"

/* nft datatype ids (nftables src/datatype.h) */
#define NFT_TYPE_ETHERADDR 9
#define NFT_TYPE_IFNAME 41

#define INT_CHAIN "internal_forward"
#define INT_SET "internal_br"
#define INT_PAIR "internal_pair"

#define SC_CHAIN "spoofchk_prerouting"
#define SC_IFS "spoofchk_ifaces"
#define SC_OK "spoofchk_allowed"
#define SC_KIND "spoofchk"
#define SC_PRIO (-300)
#define NF_BR_PRE_ROUTING 0 /* linux/netfilter_bridge.h clashes with netinet/in.h */

#define OOM(err) cni_errorf((err), CNI_ERR_INTERNAL, "out of memory")

static void ifkey(uint8_t k[16], const char *name)
{
	memset(k, 0, 16);
	strncpy((char *)k, name, 15);
}

/* A set keyed by interface names: nft lists string keys right only when
 * the set says they are in host byte order (nft's set userdata). */
static struct nftnl_set *ifname_set_new(const char *name, uint32_t flags, uint32_t key_type, uint32_t key_len)
{
	struct nftnl_set *s = nft_set_new(name, flags, key_type, key_len, 0, 0);
	uint8_t ud[16];
	ud[0] = NFTNL_UDATA_SET_KEYBYTEORDER;
	ud[1] = 4;
	uint32_t host_endian = 1; /* nft's BYTEORDER_HOST_ENDIAN */
	memcpy(ud + 2, &host_endian, 4);
	if (s)
		nftnl_set_set_data(s, NFTNL_SET_USERDATA, ud, 6);
	return s;
}

/* Queue one element add (type NEWSETELEM) or removal (DESTROYSETELEM). */
static int queue_elem(struct nft_batch *b, uint16_t type, uint16_t flags, const char *set, const void *key,
		      size_t keylen, const char *tag)
{
	struct nftnl_set *s = nft_set_ref(set);
	if (!s || nft_elem_add(s, key, keylen, NULL, NULL, 0, type == NFT_MSG_NEWSETELEM ? tag : NULL, 0, 0) < 0) {
		nftnl_set_free(s);
		return -1;
	}
	nftb_elems(b, type, s, flags);
	nftnl_set_free(s);
	return 0;
}

/* meta KEY1 -> reg 1, lookup SET; meta KEY1 . meta KEY2 -> reg 1/2,
 * lookup != PAIR; drop. */
static int queue_internal_rule(struct nft_batch *b, uint32_t k1, uint32_t k2, const char *comment)
{
	struct nftnl_rule *r = nft_rule_new(INT_CHAIN, comment);
	if (!r)
		return -1;
	nftr_meta(r, k1, NFT_REG_1);
	nftr_lookup(r, NFT_REG_1, INT_SET, 0, false);
	nftr_meta(r, k1, NFT_REG_1);
	nftr_meta(r, k2, NFT_REG_2);
	nftr_lookup(r, NFT_REG_1, INT_PAIR, 0, true);
	nftr_verdict(r, NF_DROP, NULL);
	nftb_rule(b, r);
	nftnl_rule_free(r);
	return 0;
}

static int queue_internal_base(struct nft_batch *b)
{
	uint32_t pair_types[2] = { NFT_TYPE_IFNAME, NFT_TYPE_IFNAME };
	struct nftnl_set *s = ifname_set_new(INT_SET, 0, NFT_TYPE_IFNAME, 16);
	struct nftnl_set *p = nft_set_new(INT_PAIR, 0, nft_concat_type(pair_types, 2), 32, 0, 0);
	if (!s || !p) {
		nftnl_set_free(s);
		nftnl_set_free(p);
		return -1;
	}
	nftb_table(b);
	nftb_chain(b, INT_CHAIN, NF_INET_FORWARD, NF_IP_PRI_FILTER, "filter");
	nftb_set(b, s, NLM_F_EXCL);
	nftb_set(b, p, 0);
	nftnl_set_free(s);
	nftnl_set_free(p);
	if (queue_internal_rule(b, NFT_META_IIFNAME, NFT_META_OIFNAME, "cni-c internal networks: out of the bridge") < 0 ||
	    queue_internal_rule(b, NFT_META_OIFNAME, NFT_META_IIFNAME, "cni-c internal networks: into the bridge") < 0)
		return -1;
	return 0;
}

static int internal_add_once(struct cni_nft *nft, const char *bridge, const char *tag, int *errnum,
			     struct cni_error *err)
{
	uint8_t k[16], kk[32];
	ifkey(k, bridge);
	memcpy(kk, k, 16);
	memcpy(kk + 16, k, 16);
	_cleanup_batch_ struct nft_batch b;
	nftb_init(&b, nft);
	int ex = nft_set_exists(nft, INT_SET, err);
	if (ex < 0)
		return -1;
	if (ex) {
		struct nft_elem_info info;
		int r = nft_elem_get(nft, INT_SET, k, 16, &info, err);
		if (r < 0)
			return -1;
		if (r == 1 && !strcmp(info.tag, tag))
			return 0; /* marked already: nothing to send */
		if (r == 1 && (queue_elem(&b, NFT_MSG_DESTROYSETELEM, 0, INT_SET, k, 16, NULL) < 0 ||
			       queue_elem(&b, NFT_MSG_DESTROYSETELEM, 0, INT_PAIR, kk, 32, NULL) < 0))
			return OOM(err);
	} else if (queue_internal_base(&b) < 0) {
		return OOM(err);
	}
	if (queue_elem(&b, NFT_MSG_NEWSETELEM, 0, INT_SET, k, 16, tag) < 0 ||
	    queue_elem(&b, NFT_MSG_NEWSETELEM, 0, INT_PAIR, kk, 32, tag) < 0)
		return OOM(err);
	return nftb_commit(&b, errnum, err);
}

int internal_br_add(struct cni_nft *nft, const char *bridge, int ifindex, struct cni_error *err)
{
	char tag[NFT_TAG_MAX];
	snprintf(tag, sizeof(tag), "ifindex %d", ifindex);
	for (int attempt = 0; attempt < 4; attempt++) {
		int errnum = 0;
		if (internal_add_once(nft, bridge, tag, &errnum, err) == 0)
			return 0;
		if (errnum != EEXIST)
			break;
		cni_error_clear(err); /* another ADD created the base objects first */
	}
	return cni_error_wrap(err, "marking bridge %s internal", bridge);
}

int internal_br_check(struct cni_nft *nft, const char *bridge, int ifindex, struct cni_error *err)
{
	char tag[NFT_TAG_MAX];
	snprintf(tag, sizeof(tag), "ifindex %d", ifindex);
	uint8_t k[16];
	ifkey(k, bridge);
	struct nft_elem_info info;
	int r = nft_elem_get(nft, INT_SET, k, 16, &info, err);
	if (r < 0)
		return -1;
	if (r == 0 || strcmp(info.tag, tag))
		return cni_errorf(err, CNI_ERR_CHECK_FAILED,
				  "bridge %s is not marked internal (set inet %s %s)", bridge, CNI_NFT_TABLE, INT_SET);
	return 0;
}

int internal_br_gc(struct cni_nft *nft, const char *bridge, int ifindex, struct cni_error *err)
{
	char tag[NFT_TAG_MAX];
	snprintf(tag, sizeof(tag), "ifindex %d", ifindex);
	uint8_t k[16], kk[32];
	ifkey(k, bridge);
	memcpy(kk, k, 16);
	memcpy(kk + 16, k, 16);
	struct nft_elem_info info;
	int r = nft_elem_get(nft, INT_SET, k, 16, &info, err);
	if (r <= 0)
		return r;
	if (ifindex > 0 && !strcmp(info.tag, tag))
		return 0; /* the bridge is there: the mark stays */
	_cleanup_batch_ struct nft_batch b;
	nftb_init(&b, nft);
	if (queue_elem(&b, NFT_MSG_DESTROYSETELEM, 0, INT_SET, k, 16, NULL) < 0 ||
	    queue_elem(&b, NFT_MSG_DESTROYSETELEM, 0, INT_PAIR, kk, 32, NULL) < 0)
		return OOM(err);
	return nftb_commit(&b, NULL, err);
}

/* ---- macspoofchk ------------------------------------------------------ */

static int sc_validate(const char *net, const char *cid, const char *ifname, struct cni_error *err)
{
	if (!net || !*net || strchr(net, '/') || !cid || !*cid || strchr(cid, '/') || !ifname || !*ifname ||
	    strchr(ifname, '/'))
		return cni_errorf(err, CNI_ERR_INTERNAL, "macspoofchk: bad network, container id or ifname");
	return 0;
}

struct cni_nft *spoofchk_open(struct cni_error *err)
{
	return cni_nft_open_family(NFPROTO_BRIDGE, err);
}

/* The two elements of an attachment: {ifaces: veth}, {allowed: veth . mac}. */
static void sc_elems(struct nft_owned el[2], const char *hostveth, const uint8_t mac[6])
{
	memset(el, 0, 2 * sizeof(*el));
	snprintf(el[0].set, sizeof(el[0].set), "%s", SC_IFS);
	ifkey(el[0].key, hostveth);
	el[0].keylen = 16;
	snprintf(el[1].set, sizeof(el[1].set), "%s", SC_OK);
	ifkey(el[1].key, hostveth);
	memcpy(el[1].key + 16, mac, 6); /* ether_addr: 6 bytes in an 8-byte slot */
	el[1].keylen = 24;
}

static int queue_spoofchk_base(struct nft_batch *b)
{
	uint32_t types[2] = { NFT_TYPE_IFNAME, NFT_TYPE_ETHERADDR };
	struct nftnl_set *s = ifname_set_new(SC_IFS, NFT_SET_TIMEOUT, NFT_TYPE_IFNAME, 16);
	struct nftnl_set *a = nft_set_new(SC_OK, NFT_SET_TIMEOUT, nft_concat_type(types, 2), 24, 0, 0);
	struct nftnl_rule *r = nft_rule_new(SC_CHAIN, "cni-c macspoofchk");
	if (!s || !a || !r) {
		nftnl_set_free(s);
		nftnl_set_free(a);
		nftnl_rule_free(r);
		return -1;
	}
	nftb_table(b);
	nftb_chain(b, SC_CHAIN, NF_BR_PRE_ROUTING, SC_PRIO, "filter");
	nftb_set(b, s, NLM_F_EXCL);
	nftb_set(b, a, 0);
	nftr_meta(r, NFT_META_IIFNAME, NFT_REG_1);
	nftr_lookup(r, NFT_REG_1, SC_IFS, 0, false);
	nftr_meta(r, NFT_META_IIFNAME, NFT_REG_1);
	nftr_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_2);
	nftr_lookup(r, NFT_REG_1, SC_OK, 0, true);
	nftr_verdict(r, NF_DROP, NULL);
	nftb_rule(b, r);
	nftnl_set_free(s);
	nftnl_set_free(a);
	nftnl_rule_free(r);
	return 0;
}

static int spoofchk_add_once(struct cni_nft *nft, const char *tag, const struct nft_owned el[2],
			     const struct nft_owned *old, size_t n_old, int *errnum, struct cni_error *err)
{
	_cleanup_batch_ struct nft_batch b;
	nftb_init(&b, nft);
	int ex = nft_set_exists(nft, SC_IFS, err);
	if (ex < 0)
		return -1;
	if (!ex && queue_spoofchk_base(&b) < 0)
		return OOM(err);
	for (int i = 0; i < 2; i++) {
		if (ex) {
			struct nft_elem_info info;
			int r = nft_elem_get(nft, el[i].set, el[i].key, el[i].keylen, &info, err);
			if (r < 0)
				return -1;
			if (r == 1 && !strcmp(info.tag, tag) && !info.expiring)
				continue; /* ours already */
			/* a stale owner of that veth name, or our own element
			 * released a moment ago: replace it */
			if (r == 1 &&
			    queue_elem(&b, NFT_MSG_DESTROYSETELEM, 0, el[i].set, el[i].key, el[i].keylen, NULL) < 0)
				return OOM(err);
		}
		if (queue_elem(&b, NFT_MSG_NEWSETELEM, NLM_F_EXCL, el[i].set, el[i].key, el[i].keylen, tag) < 0)
			return OOM(err);
	}
	/* elements of an earlier ADD of this attachment (another veth or MAC) */
	struct nft_owned drop[8];
	size_t nd = 0;
	for (size_t j = 0; j < n_old && nd < ARRAY_SIZE(drop); j++) {
		bool keep = false;
		for (int i = 0; i < 2; i++)
			keep |= !strcmp(old[j].set, el[i].set) && old[j].keylen == el[i].keylen &&
				!memcmp(old[j].key, el[i].key, el[i].keylen);
		if (!keep)
			drop[nd++] = old[j];
	}
	if (nd && nft_queue_release(nft, &b, drop, nd, tag, err) < 0)
		return -1;
	return nftb_commit(&b, errnum, err);
}

int spoofchk_add(struct cni_nft *nft, const char *net, const char *cid, const char *ifname, const char *hostveth,
		 const uint8_t mac[6], struct cni_error *err)
{
	if (sc_validate(net, cid, ifname, err) < 0)
		return -1;
	char tag[NFT_TAG_MAX], path[4400];
	nft_tag(tag, net, cid, ifname);
	if (nft_record_path(path, sizeof(path), SC_KIND, net, cid, ifname) < 0)
		return cni_errorf(err, CNI_ERR_INTERNAL, "macspoofchk: record path too long");
	_cleanup_free_ struct nft_owned *old = NULL;
	size_t n_old = 0;
	bool present;
	if (nft_record_read(path, &old, &n_old, NULL, NULL, NULL, &present, err) < 0)
		return -1;
	if (n_old > 6)
		n_old = 6;
	/* the record first (new and old elements): a crash after the commit
	 * must not leak untracked elements */
	struct nft_owned own[8];
	sc_elems(own, hostveth, mac);
	for (size_t j = 0; j < n_old; j++)
		own[2 + j] = old[j];
	if (nft_record_write(path, cid, ifname, own, 2 + n_old, NULL, err) < 0)
		return -1;
	for (int attempt = 0; attempt < 4; attempt++) {
		int errnum = 0;
		if (spoofchk_add_once(nft, tag, own, old, n_old, &errnum, err) == 0)
			return n_old ? nft_record_write(path, cid, ifname, own, 2, NULL, err) : 0;
		if (errnum != EEXIST)
			break;
		cni_error_clear(err);
	}
	return cni_error_wrap(err, "macspoofchk for %s", hostveth);
}

int spoofchk_del(struct cni_nft *nft, const char *net, const char *cid, const char *ifname, struct cni_error *err)
{
	if (sc_validate(net, cid, ifname, err) < 0)
		return -1;
	if (nft_record_release(nft, SC_KIND, net, cid, ifname, err) < 0)
		return cni_error_wrap(err, "removing macspoofchk of %s/%s", cid, ifname);
	return 0;
}

int spoofchk_check(struct cni_nft *nft, const char *net, const char *cid, const char *ifname, const char *hostveth,
		   const uint8_t mac[6], struct cni_error *err)
{
	if (sc_validate(net, cid, ifname, err) < 0)
		return -1;
	char tag[NFT_TAG_MAX];
	nft_tag(tag, net, cid, ifname);
	struct nft_owned el[2];
	sc_elems(el, hostveth, mac);
	for (int i = 0; i < 2; i++) {
		struct nft_elem_info info;
		int r = nft_elem_get(nft, el[i].set, el[i].key, el[i].keylen, &info, err);
		if (r < 0)
			return -1;
		if (r == 0 || info.expiring || strcmp(info.tag, tag))
			return cni_errorf(err, CNI_ERR_CHECK_FAILED,
					  "macspoofchk for %s is missing (set bridge %s %s)", hostveth, CNI_NFT_TABLE,
					  el[i].set);
	}
	return 0;
}

int spoofchk_gc(struct cni_nft *nft, const char *net, const struct cni_attachment *valid, size_t n_valid,
		struct cni_error *err)
{
	const char *sets[2] = { SC_IFS, SC_OK };
	if (nft_gc_sets(nft, sets, 2, SC_KIND, net, valid, n_valid, err) < 0)
		return cni_error_wrap(err, "macspoofchk GC for network %s", net);
	return 0;
}
