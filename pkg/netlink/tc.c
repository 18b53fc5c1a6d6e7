/* Traffic control for the bandwidth plugin: a token bucket (tbf) as root
 * qdisc, the ingress qdisc with one match-all u32 filter redirecting to an
 * ifb device, qdisc listing for CHECK, and ifb links. Raw rtnetlink
 * messages, the same ones tc(8) sends. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <arpa/inet.h>
#include <netlink/attr.h>

#include "cni/netlink.h"
#include "nl_internal.h"

#define TC_HANDLE(maj, min) (((uint32_t)(maj) << 16) | (uint32_t)(min))

double cnl_tick_in_usec(void)
{
	/* /proc/net/psched: t2us us2t clock_res (hex), read as tc(8) does:
	 * a clock_res of 1e9 means a multiplier of 1 (its compatibility
	 * rule). This kernel: 1000 64 1000000 -> 15.625 ticks per usec. */
	static double tick = 0;
	if (tick > 0)
		return tick;
	unsigned t2us = 0, us2t = 0, clock_res = 0;
	FILE *f = fopen("/proc/net/psched", "re");
	if (f) {
		if (fscanf(f, "%08x%08x%08x", &t2us, &us2t, &clock_res) != 3)
			t2us = us2t = clock_res = 0;
		fclose(f);
	}
	if (!t2us || !us2t || !clock_res)
		t2us = 1000, us2t = 64, clock_res = 1000000;
	if (clock_res == 1000000000)
		t2us = us2t;
	tick = (double)t2us / (double)us2t * ((double)clock_res / 1e6);
	return tick;
}

static struct nl_msg *tc_msg(int type, int flags, int ifindex, uint32_t handle, uint32_t parent, uint32_t info)
{
	struct tcmsg t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex, .tcm_handle = handle,
			   .tcm_parent = parent, .tcm_info = info };
	return cnl_msg(type, flags, &t, sizeof(t));
}

int cnl_tbf_add(struct nl_sock *sk, int ifindex, const struct cnl_tbf *tbf, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m =
		tc_msg(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex, TC_HANDLE(1, 0), TC_H_ROOT, 0);
	struct tc_tbf_qopt q = { 0 };
	q.rate.rate = tbf->rate >= (1ull << 32) ? ~0u : (uint32_t)tbf->rate;
	q.limit = tbf->limit;
	q.buffer = tbf->buffer;
	struct nlattr *o;
	if (!m || nla_put_string(m, TCA_KIND, "tbf") < 0 || !(o = nla_nest_start(m, TCA_OPTIONS)) ||
	    nla_put(m, TCA_TBF_PARMS, sizeof(q), &q) < 0 ||
	    (tbf->rate >= (1ull << 32) && nla_put_u64(m, TCA_TBF_RATE64, tbf->rate) < 0))
		return CNL_OOM(err);
	nla_nest_end(m, o);
	return cnl_do(sk, m, NULL, NULL, err, "create qdisc: tbf on link %d", ifindex);
}

int cnl_ingress_qdisc_add(struct nl_sock *sk, int ifindex, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m =
		tc_msg(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex, TC_HANDLE(0xffff, 0), TC_H_INGRESS, 0);
	if (!m || nla_put_string(m, TCA_KIND, "ingress") < 0)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "create ingress qdisc on link %d", ifindex);
}

int cnl_qdisc_del(struct nl_sock *sk, int ifindex, bool ingress, struct cni_error *err)
{
	_cleanup_msg_ struct nl_msg *m = tc_msg(RTM_DELQDISC, 0, ifindex, ingress ? TC_HANDLE(0xffff, 0) : 0,
						ingress ? TC_H_INGRESS : TC_H_ROOT, 0);
	if (!m)
		return CNL_OOM(err);
	return cnl_do(sk, m, NULL, NULL, err, "delete %s qdisc of link %d", ingress ? "ingress" : "root", ifindex);
}

int cnl_u32_redirect_all(struct nl_sock *sk, int ifindex, uint32_t parent, int to_ifindex, struct cni_error *err)
{
	/* tc filter add dev X parent ffff: protocol all prio 1 u32 match u32 0 0
	 *   classid 1:1 action mirred egress redirect dev <to> */
	_cleanup_msg_ struct nl_msg *m = tc_msg(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, ifindex, 0, parent,
						TC_H_MAKE(1u << 16, htons(ETH_P_ALL)));
	struct {
		struct tc_u32_sel sel;
		struct tc_u32_key key;
	} s;
	memset(&s, 0, sizeof(s));
	s.sel.flags = TC_U32_TERMINAL;
	s.sel.nkeys = 1;
	struct tc_mirred mir = { .action = TC_ACT_STOLEN, .eaction = TCA_EGRESS_REDIR, .ifindex = (uint32_t)to_ifindex };
	struct nlattr *o, *acts, *a1, *ao;
	if (!m || nla_put_string(m, TCA_KIND, "u32") < 0 || !(o = nla_nest_start(m, TCA_OPTIONS)) ||
	    nla_put_u32(m, TCA_U32_CLASSID, TC_HANDLE(1, 1)) < 0 || nla_put(m, TCA_U32_SEL, sizeof(s), &s) < 0 ||
	    !(acts = nla_nest_start(m, TCA_U32_ACT)) || !(a1 = nla_nest_start(m, 1)) ||
	    nla_put_string(m, TCA_ACT_KIND, "mirred") < 0 || !(ao = nla_nest_start(m, TCA_ACT_OPTIONS)) ||
	    nla_put(m, TCA_MIRRED_PARMS, sizeof(mir), &mir) < 0)
		return CNL_OOM(err);
	nla_nest_end(m, ao);
	nla_nest_end(m, a1);
	nla_nest_end(m, acts);
	nla_nest_end(m, o);
	return cnl_do(sk, m, NULL, NULL, err, "add filter: redirect of link %d to link %d", ifindex, to_ifindex);
}

struct qlist {
	struct cnl_qdisc *v;
	size_t n, cap;
	int ifindex;
};

static int qdisc_cb(const struct nlmsghdr *h, void *arg)
{
	struct qlist *l = arg;
	if (h->nlmsg_type != RTM_NEWQDISC)
		return 0;
	const struct tcmsg *t = nlmsg_data(h);
	if (t->tcm_ifindex != l->ifindex)
		return 0;
	struct nlattr *tb[TCA_MAX + 1];
	if (nlmsg_parse((struct nlmsghdr *)h, sizeof(*t), tb, TCA_MAX, NULL) < 0)
		return 0;
	if (cni_grow((void **)&l->v, &l->cap, l->n, sizeof(*l->v)) < 0)
		return -ENOMEM;
	struct cnl_qdisc *q = &l->v[l->n++];
	memset(q, 0, sizeof(*q));
	q->handle = t->tcm_handle;
	q->parent = t->tcm_parent;
	if (tb[TCA_KIND])
		snprintf(q->kind, sizeof(q->kind), "%s", nla_get_string(tb[TCA_KIND]));
	if (!strcmp(q->kind, "tbf") && tb[TCA_OPTIONS]) {
		struct nlattr *o[TCA_TBF_MAX + 1];
		if (nla_parse_nested(o, TCA_TBF_MAX, tb[TCA_OPTIONS], NULL) == 0 && o[TCA_TBF_PARMS] &&
		    nla_len(o[TCA_TBF_PARMS]) >= (int)sizeof(struct tc_tbf_qopt)) {
			const struct tc_tbf_qopt *p = nla_data(o[TCA_TBF_PARMS]);
			q->tbf.rate = p->rate.rate;
			q->tbf.limit = p->limit;
			q->tbf.buffer = p->buffer;
			if (o[TCA_TBF_RATE64])
				q->tbf.rate = nla_get_u64(o[TCA_TBF_RATE64]);
		}
	}
	return 0;
}

int cnl_qdisc_list(struct nl_sock *sk, int ifindex, struct cnl_qdisc **out, size_t *n, struct cni_error *err)
{
	struct qlist l = { .ifindex = ifindex };
	/* the kernel filters a qdisc dump by tcm_ifindex */
	_cleanup_msg_ struct nl_msg *m = tc_msg(RTM_GETQDISC, NLM_F_DUMP, ifindex, 0, 0, 0);
	if (!m)
		return CNL_OOM(err);
	if (cnl_do(sk, m, qdisc_cb, &l, err, "list qdiscs of link %d", ifindex) < 0) {
		free(l.v);
		return -1;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

int cnl_ifb_create(struct nl_sock *sk, const char *name, unsigned mtu, const char *alias, struct cni_error *err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	_cleanup_msg_ struct nl_msg *m = cnl_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	struct nlattr *li;
	if (!m || nla_put_string(m, IFLA_IFNAME, name) < 0 || (mtu && nla_put_u32(m, IFLA_MTU, mtu) < 0) ||
	    nla_put_u32(m, IFLA_TXQLEN, 0) < 0 || !(li = nla_nest_start(m, IFLA_LINKINFO)) ||
	    nla_put_string(m, IFLA_INFO_KIND, "ifb") < 0)
		return CNL_OOM(err);
	nla_nest_end(m, li);
	if (cnl_do(sk, m, NULL, NULL, err, "adding link: ifb %s", name) < 0)
		return -1;
	if (!alias)
		return 0;
	/* a new link's IFLA_IFALIAS is ignored at creation: set it after */
	struct ifinfomsg set = { .ifi_family = AF_UNSPEC };
	_cleanup_msg_ struct nl_msg *a = cnl_msg(RTM_NEWLINK, 0, &set, sizeof(set));
	if (!a || nla_put_string(a, IFLA_IFNAME, name) < 0 || nla_put(a, IFLA_IFALIAS, (int)strlen(alias), alias) < 0)
		return CNL_OOM(err);
	return cnl_do(sk, a, NULL, NULL, err, "failed to set the alias of ifb %s", name);
}
