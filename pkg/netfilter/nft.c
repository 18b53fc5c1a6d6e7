/* nfnetlink socket, batches with ACK processing, object and rule builders,
 * element queries. See include/cni/nft.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>

#include "cni/nft.h"

#define MSG_MAX 65536u

/* ---- names and tags --------------------------------------------------- */

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}
#define FNV0 0xcbf29ce484222325ULL

void nft_tag(char out[NFT_TAG_MAX], const char *net, const char *cid, const char *ifname)
{
	int l = snprintf(out, NFT_TAG_MAX, "%s/%s/%s", net, cid, ifname);
	if (l < 0 || l >= NFT_TAG_MAX) {
		uint64_t h = fnv1a(ifname, fnv1a("/", fnv1a(cid, FNV0)));
		snprintf(out, NFT_TAG_MAX, "#%016llx/%016llx", (unsigned long long)fnv1a(net, FNV0),
			 (unsigned long long)h);
	}
}

bool nft_tag_in_net(const char *tag, const char *net)
{
	if (tag[0] == '#') {
		char h[20];
		snprintf(h, sizeof(h), "#%016llx/", (unsigned long long)fnv1a(net, FNV0));
		return !strncmp(tag, h, strlen(h));
	}
	size_t l = strlen(net);
	return !strncmp(tag, net, l) && tag[l] == '/';
}

void nft_name(char out[NFT_NAME_MAX], const char *prefix, const char *net)
{
	int l = snprintf(out, NFT_NAME_MAX, "%s%s", prefix, net);
	if (l < 0 || l >= NFT_NAME_MAX)
		snprintf(out, NFT_NAME_MAX, "%s%.30s~%016llx", prefix, net, (unsigned long long)fnv1a(net, FNV0));
}

void nft_hex(char *out, const uint8_t *b, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int nft_unhex(uint8_t *out, size_t max, const char *s, uint32_t *n)
{
	size_t l = strlen(s);
	if (l % 2 || l / 2 > max)
		return -1;
	for (size_t i = 0; i < l / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*n = (uint32_t)(l / 2);
	return 0;
}

/* ---- socket ----------------------------------------------------------- */

static bool kernel_can_expire(void)
{
	const char *f = getenv("CNI_C_NFT_DELETE"); /* diagnostic: force plain deletes */
	if (f && *f == '1')
		return false;
	struct utsname u;
	int maj = 0, min = 0;
	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &maj, &min) != 2)
		return false;
	return maj > 6 || (maj == 6 && min >= 12);
}

const char *nft_family_name(const struct cni_nft *nft)
{
	return nft->family == NFPROTO_BRIDGE ? "bridge" : nft->family == NFPROTO_INET ? "inet" : "?";
}

struct cni_nft *cni_nft_open(struct cni_error *err)
{
	return cni_nft_open_family(NFPROTO_INET, err);
}

struct cni_nft *cni_nft_open_family(uint8_t family, struct cni_error *err)
{
	struct cni_nft *n = calloc(1, sizeof(*n));
	if (!n) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	n->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!n->nl) {
		cni_errorf_errno(err, CNI_ERR_NFTABLES, errno, "nftables: cannot open netlink socket");
		free(n);
		return NULL;
	}
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		cni_errorf_errno(err, CNI_ERR_NFTABLES, errno, "nftables: cannot bind netlink socket");
		mnl_socket_close(n->nl);
		free(n);
		return NULL;
	}
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(mnl_socket_get_fd(n->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n->portid = mnl_socket_get_portid(n->nl);
	n->seq = (uint32_t)time(NULL) << 8;
	n->can_expire = kernel_can_expire();
	n->family = family;
	return n;
}

void cni_nft_close(struct cni_nft *nft)
{
	if (!nft)
		return;
	if (nft->nl)
		mnl_socket_close(nft->nl);
	free(nft);
}

/* ---- batches ---------------------------------------------------------- */

void nftb_init(struct nft_batch *b, struct cni_nft *nft)
{
	memset(b, 0, sizeof(*b));
	b->nft = nft;
}

void nftb_free(struct nft_batch *b)
{
	for (unsigned i = 0; i < b->n; i++)
		free(b->what ? b->what[i] : NULL);
	free(b->what);
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

static bool reserve(struct nft_batch *b, size_t need)
{
	if (b->len + need <= b->cap)
		return true;
	size_t nc = b->cap ? b->cap : 2 * MSG_MAX;
	while (nc < b->len + need)
		nc *= 2;
	char *p = realloc(b->buf, nc);
	if (!p)
		return false;
	memset(p + b->cap, 0, nc - b->cap);
	b->buf = p;
	b->cap = nc;
	return true;
}

/* The message being built is the one at b->len; its length is only known
 * when the caller has filled it, so the previous one is closed here. */
static struct nlmsghdr *pending(struct nft_batch *b)
{
	return b->buf && b->len + sizeof(struct nlmsghdr) <= b->cap ? (struct nlmsghdr *)(b->buf + b->len) : NULL;
}

static void close_pending(struct nft_batch *b)
{
	struct nlmsghdr *h = pending(b);
	if (h && h->nlmsg_len)
		b->len += NLMSG_ALIGN(h->nlmsg_len);
}

struct nlmsghdr *nftb_msg(struct nft_batch *b, uint16_t type, uint16_t flags, const char *what, ...)
{
	if (b->oom)
		return NULL;
	if (!b->buf) {
		if (!reserve(b, MSG_MAX)) {
			b->oom = true;
			return NULL;
		}
		b->seq0 = ++b->nft->seq;
		nftnl_batch_begin(b->buf, b->seq0);
		b->len = NLMSG_ALIGN(((struct nlmsghdr *)b->buf)->nlmsg_len);
	}
	close_pending(b);
	if (!reserve(b, MSG_MAX + 64)) {
		b->oom = true;
		return NULL;
	}
	char **w = realloc(b->what, (b->n + 1) * sizeof(*w));
	if (!w) {
		b->oom = true;
		return NULL;
	}
	b->what = w;
	va_list ap;
	va_start(ap, what);
	if (vasprintf(&w[b->n], what, ap) < 0)
		w[b->n] = NULL;
	va_end(ap);
	uint32_t seq = b->seq0 + 1 + b->n;
	b->n++;
	b->nft->seq = seq;
	return nftnl_nlmsg_build_hdr(b->buf + b->len, type, b->nft->family, flags | NLM_F_ACK, seq);
}

void nftb_table(struct nft_batch *b)
{
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t) {
		b->oom = true;
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, CNI_NFT_TABLE);
	struct nlmsghdr *h = nftb_msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, "add table %s %s", nft_family_name(b->nft), CNI_NFT_TABLE);
	if (h)
		nftnl_table_nlmsg_build_payload(h, t);
	nftnl_table_free(t);
}

void nftb_chain(struct nft_batch *b, const char *name, int hook, int prio, const char *type)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	if (!c) {
		b->oom = true;
		return;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, CNI_NFT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (hook >= 0) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	struct nlmsghdr *h = nftb_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "add chain %s %s %s", nft_family_name(b->nft), CNI_NFT_TABLE, name);
	if (h)
		nftnl_chain_nlmsg_build_payload(h, c);
	nftnl_chain_free(c);
}

void nftb_set(struct nft_batch *b, struct nftnl_set *s, uint16_t flags)
{
	struct nlmsghdr *h = nftb_msg(b, NFT_MSG_NEWSET, NLM_F_CREATE | flags, "add set %s %s %s", nft_family_name(b->nft), CNI_NFT_TABLE,
				      nftnl_set_get_str(s, NFTNL_SET_NAME));
	if (h)
		nftnl_set_nlmsg_build_payload(h, s);
}

void nftb_elems(struct nft_batch *b, uint16_t type, struct nftnl_set *s, uint16_t flags)
{
	const char *verb = type == NFT_MSG_NEWSETELEM ? "add" : "delete";
	struct nlmsghdr *h = nftb_msg(b, type, (type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0) | flags,
				      "%s element %s %s %s", verb, nft_family_name(b->nft), CNI_NFT_TABLE, nftnl_set_get_str(s, NFTNL_SET_NAME));
	if (h)
		nftnl_set_elems_nlmsg_build_payload(h, s);
}

void nftb_rule(struct nft_batch *b, struct nftnl_rule *r)
{
	struct nlmsghdr *h = nftb_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "add rule %s %s %s",
				      nft_family_name(b->nft), CNI_NFT_TABLE, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	if (h)
		nftnl_rule_nlmsg_build_payload(h, r);
}

int nftb_commit(struct nft_batch *b, int *errnum, struct cni_error *err)
{
	if (errnum)
		*errnum = 0;
	if (b->oom)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory building an nftables batch");
	if (!b->n)
		return 0;
	close_pending(b);
	if (!reserve(b, 64))
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory building an nftables batch");
	struct nlmsghdr *end = nftnl_batch_end(b->buf + b->len, b->seq0 + 1 + b->n);
	b->len += NLMSG_ALIGN(end->nlmsg_len);
	b->nft->seq = b->seq0 + 1 + b->n;

	int fd = mnl_socket_get_fd(b->nft->nl);
	if (b->len > 200000) {
		int sz = (int)b->len * 2;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	}
	if (mnl_socket_sendto(b->nft->nl, b->buf, b->len) < 0)
		return cni_errorf_errno(err, CNI_ERR_NFTABLES, errno, "nftables: sending a batch of %u messages failed",
					b->n);
	char rbuf[MNL_SOCKET_BUFFER_SIZE];
	unsigned acks = 0;
	int first = 0;
	uint32_t first_seq = 0;
	uint32_t lo = b->seq0 + 1, hi = b->seq0 + b->n;
	while (acks < b->n) {
		ssize_t r = mnl_socket_recvfrom(b->nft->nl, rbuf, sizeof(rbuf));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return cni_errorf_errno(err, CNI_ERR_NFTABLES, errno, "nftables: reading the batch reply failed");
		}
		const struct nlmsghdr *h = (const struct nlmsghdr *)rbuf;
		int len = (int)r;
		bool stop = false;
		for (; mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
			if (h->nlmsg_seq < lo || h->nlmsg_seq > hi) {
				/* an error about BEGIN/END: the whole batch was refused */
				if (e->error) {
					first = -e->error;
					first_seq = 0;
					stop = true;
				}
				continue;
			}
			acks++;
			if (e->error && !first) {
				first = -e->error;
				first_seq = h->nlmsg_seq;
			}
		}
		if (stop)
			break;
	}
	if (!first)
		return 0;
	if (errnum)
		*errnum = first;
	const char *what = first_seq ? b->what[first_seq - lo] : "batch";
	return cni_errorf(err, CNI_ERR_NFTABLES, "nftables transaction failed at \"%s\": %s",
			  what ? what : "?", strerror(first));
}

/* ---- objects ---------------------------------------------------------- */

uint32_t nft_concat_type(const uint32_t *types, int n)
{
	uint32_t t = 0;
	for (int i = 0; i < n; i++)
		t = (t << 6) | types[i];
	return t;
}

struct nftnl_set *nft_set_new(const char *name, uint32_t flags, uint32_t key_type, uint32_t key_len,
			      uint32_t data_type, uint32_t data_len)
{
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, CNI_NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, CNI_NFT_FAMILY);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
	static uint32_t set_id;
	nftnl_set_set_u32(s, NFTNL_SET_ID, ++set_id); /* required by NEWSET */
	if (flags & NFT_SET_MAP) {
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, data_type);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, data_len);
	}
	return s;
}

int nft_elem_add(struct nftnl_set *s, const void *key, size_t keylen, const void *key_end, const void *data,
		 size_t datalen, const char *tag, uint64_t timeout_ms, uint64_t expire_ms)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	if (!e)
		return -1;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)keylen);
	if (key_end)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, key_end, (uint32_t)keylen);
	if (data)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data, (uint32_t)datalen);
	if (tag) {
		uint8_t ud[NFT_TAG_MAX + 4];
		size_t l = strlen(tag) + 1;
		ud[0] = NFTNL_UDATA_SET_ELEM_COMMENT;
		ud[1] = (uint8_t)l;
		memcpy(ud + 2, tag, l);
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA, ud, (uint32_t)(l + 2));
	}
	if (timeout_ms)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
	if (expire_ms)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_EXPIRATION, expire_ms);
	nftnl_set_elem_add(s, e);
	return 0;
}

int nft_elem_add_prefix(struct nftnl_set *s, const struct cni_cidr *c)
{
	struct cni_cidr net = cni_cidr_network(c);
	int len = cni_ip_len(&net.ip);
	if (nft_elem_add(s, net.ip.b, (size_t)len, NULL, NULL, 0, NULL, 0, 0) < 0)
		return -1;
	struct cni_ip last = cni_cidr_last(&net);
	struct cni_ip end = cni_ip_next(&last);
	bool wrapped = true;
	for (int i = 0; i < len; i++)
		if (end.b[i])
			wrapped = false;
	if (wrapped)
		return 0; /* the range reaches the top of the space: no end element */
	return nft_elem_add_end(s, end.b, (size_t)len);
}

int nft_elem_add_end(struct nftnl_set *s, const void *key, size_t keylen)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	if (!e)
		return -1;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)keylen);
	nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
	nftnl_set_elem_add(s, e);
	return 0;
}

struct nftnl_rule *nft_rule_new(const char *chain, const char *comment)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return NULL;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, CNI_NFT_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, CNI_NFT_FAMILY);
	if (comment) {
		uint8_t ud[256];
		size_t l = strnlen(comment, 200) + 1;
		ud[0] = NFTNL_UDATA_RULE_COMMENT;
		ud[1] = (uint8_t)l;
		memcpy(ud + 2, comment, l - 1);
		ud[2 + l - 1] = 0;
		nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, ud, (uint32_t)(l + 2));
	}
	return r;
}

static struct nftnl_expr *expr(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);
	if (e)
		nftnl_rule_add_expr(r, e);
	return e;
}

void nftr_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "meta");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

void nftr_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr(r, "cmp");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

void nftr_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "payload");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

void nftr_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set, uint32_t dreg, bool inv)
{
	struct nftnl_expr *e = expr(r, "lookup");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (dreg)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, dreg);
	if (inv)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
}

void nftr_bitwise(struct nftnl_rule *r, uint32_t sreg, uint32_t dreg, const void *mask, uint32_t len)
{
	struct nftnl_expr *e = expr(r, "bitwise");
	if (!e)
		return;
	uint8_t zero[16] = { 0 };
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, dreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
}

void nftr_masq(struct nftnl_rule *r)
{
	expr(r, "masq");
}

void nftr_dnat(struct nftnl_rule *r, int nfproto, uint32_t reg_addr, uint32_t reg_proto)
{
	struct nftnl_expr *e = expr(r, "nat");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, (uint32_t)nfproto);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_proto);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
}

void nftr_fib_daddr_type(struct nftnl_rule *r, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "fib");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, dreg);
}

void nftr_ct(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "ct");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
}

void nftr_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = expr(r, "immediate");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

void nftr_counter(struct nftnl_rule *r)
{
	expr(r, "counter");
}

void nftr_nfproto(struct nftnl_rule *r, uint8_t nfproto)
{
	nftr_meta(r, NFT_META_NFPROTO, NFT_REG32_15);
	nftr_cmp(r, NFT_REG32_15, NFT_CMP_EQ, &nfproto, 1);
}

/* ---- queries ---------------------------------------------------------- */

/* Send one request and feed every reply message of our seq to cb until the
 * final ACK/error (or NLMSG_DONE for dumps). Returns 0 or -errno. */
static int request(struct cni_nft *nft, struct nlmsghdr *req, int (*cb)(const struct nlmsghdr *, void *), void *arg)
{
	uint32_t seq = req->nlmsg_seq;
	if (mnl_socket_sendto(nft->nl, req, req->nlmsg_len) < 0)
		return -errno;
	char rbuf[MNL_SOCKET_BUFFER_SIZE];
	for (;;) {
		ssize_t r = mnl_socket_recvfrom(nft->nl, rbuf, sizeof(rbuf));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		const struct nlmsghdr *h = (const struct nlmsghdr *)rbuf;
		int len = (int)r;
		for (; mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
				return e->error;
			}
			if (cb && cb(h, arg) < 0)
				return -ECANCELED;
		}
	}
}

/* A set of our table named `set`, as the key of a query message. */
struct nftnl_set *nft_set_ref(const char *set)
{
	struct nftnl_set *s = nftnl_set_alloc();
	if (s) {
		nftnl_set_set_str(s, NFTNL_SET_TABLE, CNI_NFT_TABLE);
		nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	}
	return s;
}

int nft_set_exists(struct cni_nft *nft, const char *set, struct cni_error *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_set *s = nft_set_ref(set);
	if (!s)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, nft->family, NLM_F_ACK, ++nft->seq);
	nftnl_set_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	int r = request(nft, h, NULL, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return cni_errorf_errno(err, CNI_ERR_NFTABLES, -r, "nftables: get set %s", set);
	return 1;
}

static void elem_info(struct nftnl_set_elem *e, struct nft_elem_info *o)
{
	memset(o, 0, sizeof(*o));
	uint32_t l = 0;
	const void *p;
	if ((p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &l)) && l <= sizeof(o->key)) {
		memcpy(o->key, p, l);
		o->keylen = l;
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END) &&
	    (p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &l)) && l <= sizeof(o->key_end)) {
		memcpy(o->key_end, p, l);
		o->key_endlen = l;
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA) && (p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &l)) &&
	    l <= sizeof(o->data)) {
		memcpy(o->data, p, l);
		o->datalen = l;
	}
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT) && nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT))
		o->expiring = true;
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
		o->flags = nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA) &&
	    (p = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &l))) {
		const uint8_t *u = p, *end = u + l;
		while (u + 2 <= end && u + 2 + u[1] <= end) {
			if (u[0] == NFTNL_UDATA_SET_ELEM_COMMENT) {
				size_t n = u[1] < NFT_TAG_MAX ? u[1] : NFT_TAG_MAX - 1;
				memcpy(o->tag, u + 2, n);
				o->tag[n] = 0;
				break;
			}
			u += 2 + u[1];
		}
	}
}

struct elems_cb {
	int (*cb)(void *arg, const struct nft_elem_info *e);
	void *arg;
	struct nft_elem_info *one;
	bool found;
};

static int elems_msg(const struct nlmsghdr *h, void *arg)
{
	struct elems_cb *c = arg;
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		return -1;
	int ret = 0;
	if (nftnl_set_elems_nlmsg_parse(h, s) < 0) {
		nftnl_set_free(s);
		return 0;
	}
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	for (struct nftnl_set_elem *e = it ? nftnl_set_elems_iter_next(it) : NULL; e; e = nftnl_set_elems_iter_next(it)) {
		struct nft_elem_info info;
		elem_info(e, &info);
		if (c->one) {
			if (!c->found) {
				*c->one = info;
				c->found = true;
			}
		} else if (c->cb(c->arg, &info) < 0) {
			ret = -1;
			break;
		}
	}
	if (it)
		nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return ret;
}

int nft_elem_get(struct cni_nft *nft, const char *set, const void *key, size_t keylen, struct nft_elem_info *out,
		 struct cni_error *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_set *s = nft_set_ref(set);
	if (!s)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	nft_elem_add(s, key, keylen, NULL, NULL, 0, NULL, 0, 0);
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, nft->family, NLM_F_ACK, ++nft->seq);
	nftnl_set_elems_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	struct nft_elem_info tmp;
	struct elems_cb c = { .one = out ? out : &tmp };
	int r = request(nft, h, elems_msg, &c);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return cni_errorf_errno(err, CNI_ERR_NFTABLES, -r, "nftables: get element of set %s", set);
	return c.found ? 1 : 0;
}

int nft_elem_dump(struct cni_nft *nft, const char *set, int (*cb)(void *arg, const struct nft_elem_info *e),
		  void *arg, struct cni_error *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_set *s = nft_set_ref(set);
	if (!s)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, nft->family, NLM_F_DUMP, ++nft->seq);
	nftnl_set_elems_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	struct elems_cb c = { .cb = cb, .arg = arg };
	int r = request(nft, h, elems_msg, &c);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return cni_errorf_errno(err, CNI_ERR_NFTABLES, -r, "nftables: list elements of set %s", set);
	return 0;
}

struct rules_cb {
	struct nft_batch *b;
	const char *comment;
	int n;
	bool oom;
};

static int rule_msg(const struct nlmsghdr *h, void *arg)
{
	struct rules_cb *c = arg;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r) {
		c->oom = true;
		return -1;
	}
	uint32_t l = 0;
	const uint8_t *u;
	if (nftnl_rule_nlmsg_parse(h, r) == 0 && nftnl_rule_is_set(r, NFTNL_RULE_USERDATA) &&
	    (u = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &l))) {
		const uint8_t *end = u + l;
		while (u + 2 <= end && u + 2 + u[1] <= end) {
			if (u[0] == NFTNL_UDATA_RULE_COMMENT) {
				if (u[1] >= 1 && strnlen((const char *)u + 2, u[1]) == strlen(c->comment) &&
				    !strncmp((const char *)u + 2, c->comment, u[1])) {
					struct nftnl_rule *d = nftnl_rule_alloc();
					if (!d) {
						c->oom = true;
						break;
					}
					nftnl_rule_set_str(d, NFTNL_RULE_TABLE, CNI_NFT_TABLE);
					nftnl_rule_set_str(d, NFTNL_RULE_CHAIN, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
					nftnl_rule_set_u64(d, NFTNL_RULE_HANDLE, nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE));
					struct nlmsghdr *m = nftb_msg(c->b, NFT_MSG_DELRULE, 0, "delete rule %s %s %s \"%s\"",
								      nft_family_name(c->b->nft), CNI_NFT_TABLE, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN),
								      c->comment);
					if (m)
						nftnl_rule_nlmsg_build_payload(m, d);
					nftnl_rule_free(d);
					c->n++;
				}
				break;
			}
			u += 2 + u[1];
		}
	}
	nftnl_rule_free(r);
	return 0;
}

int nftb_del_rules_by_comment(struct nft_batch *b, const char *chain, const char *comment, struct cni_error *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, CNI_NFT_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, b->nft->family, NLM_F_DUMP, ++b->nft->seq);
	nftnl_rule_nlmsg_build_payload(h, r);
	nftnl_rule_free(r);
	struct rules_cb c = { .b = b, .comment = comment };
	int ret = request(b->nft, h, rule_msg, &c);
	if (c.oom)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return cni_errorf_errno(err, CNI_ERR_NFTABLES, -ret, "nftables: list chain %s", chain);
	return c.n;
}

void nftb_del_set(struct nft_batch *b, const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s) {
		b->oom = true;
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, CNI_NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	struct nlmsghdr *h = nftb_msg(b, NFT_MSG_DESTROYSET, 0, "delete set %s %s %s", nft_family_name(b->nft), CNI_NFT_TABLE, name);
	if (h)
		nftnl_set_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
}
