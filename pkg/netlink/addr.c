/* Addresses of one link. */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <string.h>

#include "cni/netlink.h"
#include "nl_internal.h"

static int addr_msg(struct nl_sock *sk, int type, int flags, int ifindex, const struct cni_cidr *a,
		    unsigned ifa_flags, struct cni_error *err)
{
	struct ifaddrmsg ifa = {
		.ifa_family = (uint8_t)a->ip.family,
		.ifa_prefixlen = (uint8_t)a->prefix,
		.ifa_index = (uint32_t)ifindex,
		.ifa_scope = RT_SCOPE_UNIVERSE,
		.ifa_flags = (uint8_t)ifa_flags,
	};
	if (a->ip.family == AF_INET6 && a->ip.b[0] == 0xfe && (a->ip.b[1] & 0xc0) == 0x80)
		ifa.ifa_scope = RT_SCOPE_LINK;
	int len = cni_ip_len(&a->ip);
	_cleanup_msg_ struct nl_msg *m = cnl_msg(type, flags, &ifa, sizeof(ifa));
	if (!m || nla_put(m, IFA_LOCAL, len, a->ip.b) < 0 || nla_put(m, IFA_ADDRESS, len, a->ip.b) < 0)
		return CNL_OOM(err);
	if (ifa_flags > 0xff && nla_put_u32(m, IFA_FLAGS, ifa_flags) < 0)
		return CNL_OOM(err);
	if (type == RTM_NEWADDR && a->ip.family == AF_INET && a->prefix < 31) {
		struct cni_ip brd = cni_cidr_last(a);
		if (nla_put(m, IFA_BROADCAST, 4, brd.b) < 0)
			return CNL_OOM(err);
	}
	char b[CNI_CIDR_STRLEN];
	return cnl_do(sk, m, NULL, NULL, err, "failed to %s address %s %s link %d",
		      type == RTM_NEWADDR ? "add" : "delete", cni_cidr_fmt(a, b), type == RTM_NEWADDR ? "to" : "from",
		      ifindex);
}

int cnl_addr_add(struct nl_sock *sk, int ifindex, const struct cni_cidr *a, struct cni_error *err)
{
	return addr_msg(sk, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, a, 0, err);
}

int cnl_addr_add_flags(struct nl_sock *sk, int ifindex, const struct cni_cidr *a, unsigned flags,
		       struct cni_error *err)
{
	return addr_msg(sk, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, a, flags, err);
}

int cnl_addr_del(struct nl_sock *sk, int ifindex, const struct cni_cidr *a, struct cni_error *err)
{
	return addr_msg(sk, RTM_DELADDR, 0, ifindex, a, 0, err);
}

struct addr_list {
	int ifindex;
	struct cnl_addr *v;
	size_t n, cap;
};

static int parse_addr(const struct nlmsghdr *h, void *arg)
{
	struct addr_list *c = arg;
	if (h->nlmsg_type != RTM_NEWADDR)
		return 0;
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	if ((int)ifa->ifa_index != c->ifindex)
		return 0; /* kernels without strict dump filtering */
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return 0;
	struct nlattr *tb[IFA_MAX + 1];
	if (nlmsg_parse((struct nlmsghdr *)h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return -EINVAL;
	struct nlattr *a = ifa->ifa_family == AF_INET && tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a)
		a = tb[IFA_LOCAL];
	int len = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!a || nla_len(a) != len)
		return 0;
	if (cni_grow((void **)&c->v, &c->cap, c->n, sizeof(*c->v)) < 0)
		return -ENOMEM;
	struct cnl_addr *x = &c->v[c->n++];
	memset(x, 0, sizeof(*x));
	x->cidr.ip.family = ifa->ifa_family;
	memcpy(x->cidr.ip.b, nla_data(a), (size_t)len);
	x->cidr.prefix = ifa->ifa_prefixlen;
	x->flags = tb[IFA_FLAGS] ? nla_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	x->scope = ifa->ifa_scope;
	return 0;
}

int cnl_addr_list_ex(struct nl_sock *sk, int ifindex, int family, struct cnl_addr **out, size_t *n,
		     struct cni_error *err)
{
	*out = NULL;
	*n = 0;
	for (int attempt = 0; attempt < 5; attempt++) {
		struct ifaddrmsg ifa = { .ifa_family = (uint8_t)family, .ifa_index = (uint32_t)ifindex };
		_cleanup_msg_ struct nl_msg *m = cnl_msg(RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
		if (!m)
			return CNL_OOM(err);
		struct addr_list c = { .ifindex = ifindex };
		char ktext[128];
		int r = cnl_talk(sk, m, parse_addr, &c, ktext, sizeof(ktext));
		if (r == -EINTR) { /* dump interrupted by a concurrent change: retry */
			free(c.v);
			continue;
		}
		if (r < 0) {
			free(c.v);
			return cni_errorf(err, CNI_ERR_NETLINK, "failed to list addresses of link %d: %s", ifindex,
					  strerror(-r));
		}
		*out = c.v;
		*n = c.n;
		return 0;
	}
	return cni_errorf(err, CNI_ERR_NETLINK, "failed to list addresses of link %d: dump interrupted 5 times",
			  ifindex);
}

int cnl_addr_list(struct nl_sock *sk, int ifindex, int family, struct cni_cidr **out, size_t *n,
		  struct cni_error *err)
{
	struct cnl_addr *v = NULL;
	*out = NULL;
	*n = 0;
	if (cnl_addr_list_ex(sk, ifindex, family, &v, n, err) < 0)
		return -1;
	if (*n == 0) {
		free(v);
		return 0;
	}
	struct cni_cidr *c = calloc(*n, sizeof(*c));
	if (!c) {
		free(v);
		return CNL_OOM(err);
	}
	for (size_t i = 0; i < *n; i++)
		c[i] = v[i].cidr;
	free(v);
	*out = c;
	return 0;
}
