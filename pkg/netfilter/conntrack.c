/* ctnetlink: dump the entries matching (proto, orig dport) with a kernel
 * side filter (CTA_FILTER, kernel >= 5.8), then delete each by its original
 * tuple. Flush-with-filter cannot be used: the kernel refuses CTA_FILTER on
 * IPCTNL_MSG_CT_DELETE without a tuple. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <libmnl/libmnl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cni/conntrack.h"

/* The kernel's CTA_FILTER_F_* bits (net/netfilter/nf_conntrack_netlink.c):
 * not 1 << CTA_*, but their own numbering. */
#define CT_FILTER_PROTO_NUM (1u << 3)
#define CT_FILTER_PROTO_DST_PORT (1u << 5)

struct tuples {
	char **t;      /* raw CTA_TUPLE_ORIG attributes (header included) */
	uint16_t *zone;
	size_t n, cap;
	uint8_t proto;
	uint16_t port;
	bool oom;
};

static bool tuple_matches(const struct nlattr *orig, uint8_t proto, uint16_t port)
{
	const struct nlattr *a, *p;
	mnl_attr_for_each_nested(a, orig) {
		if (mnl_attr_get_type(a) != CTA_TUPLE_PROTO)
			continue;
		bool pm = false, dm = false;
		mnl_attr_for_each_nested(p, a) {
			if (mnl_attr_get_type(p) == CTA_PROTO_NUM)
				pm = mnl_attr_get_u8(p) == proto;
			else if (mnl_attr_get_type(p) == CTA_PROTO_DST_PORT)
				dm = ntohs(mnl_attr_get_u16(p)) == port;
		}
		return pm && dm;
	}
	return false;
}

static int ct_msg(const struct nlmsghdr *h, void *arg)
{
	struct tuples *t = arg;
	const struct nlattr *a, *orig = NULL;
	uint16_t zone = 0;
	mnl_attr_for_each(a, h, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG)
			orig = a;
		else if (mnl_attr_get_type(a) == CTA_ZONE)
			zone = ntohs(mnl_attr_get_u16(a));
	}
	/* the kernel filter already matched; check again for kernels without it */
	if (!orig || !tuple_matches(orig, t->proto, t->port))
		return MNL_CB_OK;
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 8;
		char **nt = realloc(t->t, nc * sizeof(*nt));
		uint16_t *nz = nt ? realloc(t->zone, nc * sizeof(*nz)) : NULL;
		if (nt)
			t->t = nt;
		if (!nt || !nz) {
			t->oom = true;
			return MNL_CB_ERROR;
		}
		t->zone = nz;
		t->cap = nc;
	}
	char *copy = malloc(orig->nla_len);
	if (!copy) {
		t->oom = true;
		return MNL_CB_ERROR;
	}
	memcpy(copy, orig, orig->nla_len);
	t->zone[t->n] = zone;
	t->t[t->n++] = copy;
	return MNL_CB_OK;
}

static struct nlmsghdr *ct_hdr(char *buf, uint16_t type, uint16_t flags, int family, uint32_t seq)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = seq;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = (uint8_t)family;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	return h;
}

static int run(struct mnl_socket *nl, struct nlmsghdr *h, mnl_cb_t cb, void *arg)
{
	unsigned portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, h, h->nlmsg_len) < 0)
		return -errno;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	for (;;) {
		ssize_t r = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (r < 0)
			return errno == EINTR ? 0 : -errno;
		int ret = mnl_cb_run(buf, (size_t)r, h->nlmsg_seq, portid, cb, arg);
		if (ret < 0)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

int ct_flush_dport(int family, uint8_t proto, uint16_t port, struct cni_error *err)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl)
		return cni_errorf_errno(err, CNI_ERR_NFTABLES, errno, "conntrack: cannot open netlink socket");
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		mnl_socket_close(nl);
		return cni_errorf_errno(err, CNI_ERR_NFTABLES, e, "conntrack: cannot bind netlink socket");
	}
	uint32_t seq = (uint32_t)time(NULL);
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *h = ct_hdr(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, family, seq);
	struct nlattr *o = mnl_attr_nest_start(h, CTA_TUPLE_ORIG);
	struct nlattr *p = mnl_attr_nest_start(h, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(h, CTA_PROTO_NUM, proto);
	mnl_attr_put_u16(h, CTA_PROTO_DST_PORT, htons(port));
	mnl_attr_nest_end(h, p);
	mnl_attr_nest_end(h, o);
	struct nlattr *f = mnl_attr_nest_start(h, CTA_FILTER);
	mnl_attr_put_u32(h, CTA_FILTER_ORIG_FLAGS, CT_FILTER_PROTO_NUM | CT_FILTER_PROTO_DST_PORT);
	mnl_attr_nest_end(h, f);

	struct tuples t = { .proto = proto, .port = port };
	int r = run(nl, h, ct_msg, &t);
	int deleted = 0, ret = 0;
	if (t.oom)
		ret = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	else if (r < 0)
		ret = cni_errorf_errno(err, CNI_ERR_NFTABLES, -r, "conntrack: listing %s port %u entries failed",
				       proto == 17 ? "udp" : "proto", port);
	for (size_t i = 0; i < t.n; i++) {
		if (ret == 0) {
			h = ct_hdr(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, family, ++seq);
			const struct nlattr *a = (const struct nlattr *)t.t[i];
			memcpy(mnl_nlmsg_get_payload_tail(h), a, a->nla_len);
			h->nlmsg_len += MNL_ALIGN(a->nla_len);
			if (t.zone[i])
				mnl_attr_put_u16(h, CTA_ZONE, htons(t.zone[i]));
			r = run(nl, h, NULL, NULL);
			if (r == 0)
				deleted++;
			else if (r != -ENOENT)
				ret = cni_errorf_errno(err, CNI_ERR_NFTABLES, -r, "conntrack: deleting an entry failed");
		}
		free(t.t[i]);
	}
	free(t.t);
	free(t.zone);
	mnl_socket_close(nl);
	return ret < 0 ? -1 : deleted;
}
