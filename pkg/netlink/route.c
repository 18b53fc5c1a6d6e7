/* Routes: add/delete one, list the routes of one link. */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <string.h>

#include "cni/netlink.h"
#include "nl_internal.h"

static struct nl_msg *route_msg(int type, int flags, const struct cnl_route *r)
{
	int fam = r->dst.ip.family;
	struct rtmsg rtm = {
		.rtm_family = (uint8_t)fam,
		.rtm_dst_len = (uint8_t)r->dst.prefix,
		.rtm_table = r->table == 0 ? RT_TABLE_MAIN : (r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC),
		.rtm_protocol = type == RTM_NEWROUTE ? RTPROT_BOOT : 0,
		.rtm_scope = (uint8_t)(r->scope >= 0 ? r->scope
				       : (cni_ip_is_set(&r->gw) || type == RTM_DELROUTE ? RT_SCOPE_UNIVERSE
											 : RT_SCOPE_LINK)),
		.rtm_type = RTN_UNICAST,
	};
	if (type == RTM_DELROUTE && r->scope < 0)
		rtm.rtm_scope = RT_SCOPE_NOWHERE; /* match any scope */
	struct nl_msg *m = cnl_msg(type, flags, &rtm, sizeof(rtm));
	if (!m)
		return NULL;
	int len = fam == AF_INET ? 4 : 16;
	struct cni_cidr net = cni_cidr_network(&r->dst);
	bool ok = nla_put(m, RTA_DST, len, net.ip.b) == 0;
	if (ok && cni_ip_is_set(&r->gw))
		ok = nla_put(m, RTA_GATEWAY, len, r->gw.b) == 0;
	if (ok && cni_ip_is_set(&r->src))
		ok = nla_put(m, RTA_PREFSRC, len, r->src.b) == 0;
	if (ok && r->oif)
		ok = nla_put_u32(m, RTA_OIF, (uint32_t)r->oif) == 0;
	if (ok && r->table >= 256)
		ok = nla_put_u32(m, RTA_TABLE, r->table) == 0;
	if (ok && r->priority)
		ok = nla_put_u32(m, RTA_PRIORITY, r->priority) == 0;
	if (ok && (r->mtu || r->advmss) && type == RTM_NEWROUTE) {
		struct nlattr *mx = nla_nest_start(m, RTA_METRICS);
		ok = mx && (!r->mtu || nla_put_u32(m, RTAX_MTU, r->mtu) == 0) &&
		     (!r->advmss || nla_put_u32(m, RTAX_ADVMSS, r->advmss) == 0);
		if (ok)
			nla_nest_end(m, mx);
	}
	if (!ok) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

static const char *route_str(const struct cnl_route *r, char *buf, size_t len)
{
	char d[CNI_CIDR_STRLEN], g[CNI_IP_STRLEN];
	struct cni_cidr net = cni_cidr_network(&r->dst);
	snprintf(buf, len, "%s%s%s", cni_cidr_fmt(&net, d), cni_ip_is_set(&r->gw) ? " via " : "",
		 cni_ip_is_set(&r->gw) ? cni_ip_fmt(&r->gw, g) : "");
	return buf;
}

int cnl_route_add(struct nl_sock *sk, const struct cnl_route *r, int mode, struct cni_error *err)
{
	int flags = NLM_F_CREATE;
	if (mode == CNL_ROUTE_APPEND)
		flags |= NLM_F_APPEND;
	else if (mode == CNL_ROUTE_REPLACE)
		flags |= NLM_F_REPLACE;
	else
		flags |= NLM_F_EXCL;
	_cleanup_msg_ struct nl_msg *m = route_msg(RTM_NEWROUTE, flags, r);
	if (!m)
		return CNL_OOM(err);
	char b[128];
	return cnl_do(sk, m, NULL, NULL, err, "failed to add route %s", route_str(r, b, sizeof(b)));
}

int cnl_route_del(struct nl_sock *sk, const struct cnl_route *r, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = route_msg(RTM_DELROUTE, 0, r);
	if (!m)
		return CNL_OOM(err);
	char b[128];
	int rc = cnl_do(sk, m, NULL, NULL, err, "failed to delete route %s", route_str(r, b, sizeof(b)));
	if (rc < 0 && cnl_last_errno() == ESRCH && err)
		err->code = CNI_ERR_NOT_FOUND;
	return rc;
}

struct route_list {
	int oif;
	unsigned table;
	struct cnl_route *v;
	size_t n, cap;
};

static int push(struct route_list *c, const struct cnl_route *r)
{
	if (c->oif && r->oif != c->oif)
		return 0;
	if (cni_grow((void **)&c->v, &c->cap, c->n, sizeof(*c->v)) < 0)
		return -ENOMEM;
	c->v[c->n++] = *r;
	return 0;
}

static int parse_route(const struct nlmsghdr *h, void *arg)
{
	struct route_list *c = arg;
	if (h->nlmsg_type != RTM_NEWROUTE)
		return 0;
	const struct rtmsg *rtm = NLMSG_DATA(h);
	if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
		return 0;
	if (rtm->rtm_flags & RTM_F_CLONED)
		return 0;
	struct nlattr *tb[RTA_MAX + 1];
	if (nlmsg_parse((struct nlmsghdr *)h, sizeof(*rtm), tb, RTA_MAX, NULL) < 0)
		return -EINVAL;
	int len = rtm->rtm_family == AF_INET ? 4 : 16;
	struct cnl_route r = CNL_ROUTE_INIT;
	r.dst.ip.family = rtm->rtm_family;
	r.dst.prefix = rtm->rtm_dst_len;
	if (tb[RTA_DST] && nla_len(tb[RTA_DST]) == len)
		memcpy(r.dst.ip.b, nla_data(tb[RTA_DST]), (size_t)len);
	r.table = tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (c->table && r.table != c->table)
		return 0;
	r.scope = rtm->rtm_scope;
	r.type = rtm->rtm_type;
	r.protocol = rtm->rtm_protocol;
	if (tb[RTA_PRIORITY])
		r.priority = nla_get_u32(tb[RTA_PRIORITY]);
	if (tb[RTA_PREFSRC] && nla_len(tb[RTA_PREFSRC]) == len) {
		r.src.family = rtm->rtm_family;
		memcpy(r.src.b, nla_data(tb[RTA_PREFSRC]), (size_t)len);
	}
	if (tb[RTA_METRICS]) {
		struct nlattr *mx[RTAX_MAX + 1];
		if (nla_parse_nested(mx, RTAX_MAX, tb[RTA_METRICS], NULL) == 0) {
			if (mx[RTAX_MTU])
				r.mtu = nla_get_u32(mx[RTAX_MTU]);
			if (mx[RTAX_ADVMSS])
				r.advmss = nla_get_u32(mx[RTAX_ADVMSS]);
		}
	}
	if (tb[RTA_MULTIPATH]) {
		const struct rtnexthop *nh = nla_data(tb[RTA_MULTIPATH]);
		int rem = nla_len(tb[RTA_MULTIPATH]);
		while (rem >= (int)sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= rem) {
			struct cnl_route hop = r;
			hop.oif = nh->rtnh_ifindex;
			int alen = nh->rtnh_len - (int)RTNH_LENGTH(0);
			if (alen > 0) {
				struct nlattr *nt[RTA_MAX + 1];
				if (nla_parse(nt, RTA_MAX, (struct nlattr *)RTNH_DATA(nh), alen, NULL) == 0 &&
				    nt[RTA_GATEWAY] && nla_len(nt[RTA_GATEWAY]) == len) {
					hop.gw.family = rtm->rtm_family;
					memcpy(hop.gw.b, nla_data(nt[RTA_GATEWAY]), (size_t)len);
				}
			}
			if (push(c, &hop) < 0)
				return -ENOMEM;
			rem -= RTNH_ALIGN(nh->rtnh_len);
			nh = RTNH_NEXT(nh);
		}
		return 0;
	}
	if (tb[RTA_OIF])
		r.oif = (int)nla_get_u32(tb[RTA_OIF]);
	if (tb[RTA_GATEWAY] && nla_len(tb[RTA_GATEWAY]) == len) {
		r.gw.family = rtm->rtm_family;
		memcpy(r.gw.b, nla_data(tb[RTA_GATEWAY]), (size_t)len);
	}
	return push(c, &r);
}

static int list_family(struct nl_sock *sk, int oif, int family, unsigned table, struct route_list *c,
		       struct cni_error *err)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		struct rtmsg rtm = { .rtm_family = (uint8_t)family, .rtm_table = table < 256 ? (uint8_t)table : 0 };
		_cleanup_msg_ struct nl_msg *m = cnl_msg(RTM_GETROUTE, NLM_F_DUMP, &rtm, sizeof(rtm));
		if (!m || (oif && nla_put_u32(m, RTA_OIF, (uint32_t)oif) < 0) ||
		    (table >= 256 && nla_put_u32(m, RTA_TABLE, table) < 0))
			return CNL_OOM(err);
		size_t before = c->n;
		char ktext[128];
		int r = cnl_talk(sk, m, parse_route, c, ktext, sizeof(ktext));
		if (r == -EINTR) {
			c->n = before;
			continue;
		}
		if (r < 0)
			return cni_errorf(err, CNI_ERR_NETLINK, "failed to list routes: %s%s%s", strerror(-r),
					  ktext[0] ? ": " : "", ktext);
		return 0;
	}
	return cni_errorf(err, CNI_ERR_NETLINK, "failed to list routes: dump interrupted 5 times");
}

int cnl_route_list(struct nl_sock *sk, int oif, int family, unsigned table, struct cnl_route **out, size_t *n,
		   struct cni_error *err)
{
	struct route_list c = { .oif = oif, .table = table };
	*out = NULL;
	*n = 0;
	int fams[2] = { AF_INET, AF_INET6 };
	for (int i = 0; i < 2; i++) {
		if (family != AF_UNSPEC && family != fams[i])
			continue;
		if (list_family(sk, oif, fams[i], table, &c, err) < 0) {
			free(c.v);
			return -1;
		}
	}
	*out = c.v;
	*n = c.n;
	return 0;
}
