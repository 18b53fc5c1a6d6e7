/* bandwidth (chained, 0.3.0+): rate limits on a veth-attached container.
 *
 * Traffic to the container (ingressRate/Burst) goes through a token bucket
 * (tbf, root qdisc 1:) on the host end of the container's veth; traffic
 * from it (egressRate/Burst) arrives at the host end's ingress, where a
 * match-all u32 filter redirects it to an ifb device "bwp<hash>" whose
 * root qdisc is another tbf. The host end is the veth peer of CNI_IFNAME
 * and must be listed in prevResult without a sandbox. Limits come from the
 * config keys, or, when none of them is there, from runtimeConfig.bandwidth.
 * Rates are bits/s, bursts bits; the tbf gets the reference's limit
 * (rate x 25 ms + burst) and buffer (burst time in kernel ticks).
 *
 * ADD undoes what it made when a later step fails (the reference leaves the
 * tbf and the ifb). An ingress or clsact qdisc another tool put on the host
 * end is refused by name (see cmd_add) and left as it is. DEL
 * deletes the ifb (the host end's qdiscs go with the veth). CHECK compares
 * the tbfs with the config. GC deletes the ifbs of this network's stale
 * attachments (each ifb names its network and container in its alias).
 * STATUS: ready. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <linux/pkt_sched.h>

#include "cni/json.h"
#include "cni/netlink.h"
#include "cni/netns.h"
#include "cni/plugin.h"
#include "cni/runtime.h"

#define LATENCY_MS 25.0
#define ALIAS_PREFIX "cni-c:bandwidth:"

struct bw {
	uint64_t in_rate, in_burst, out_rate, out_burst;
};

static bool bw_zero(const struct bw *b)
{
	return !b->in_rate && !b->in_burst && !b->out_rate && !b->out_burst;
}

static int get_u64(const json_t *o, const char *key, const char *where, uint64_t *out, struct cni_error *err)
{
	json_t *v = cj_get(o, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		char b[64];
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "%s%s must be a non-negative integer, not %s", where, key,
				  cj_repr(v, b, sizeof(b)));
	}
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int load_entry(const json_t *o, const char *where, struct bw *b, struct cni_error *err)
{
	return get_u64(o, "ingressRate", where, &b->in_rate, err) < 0 ||
			       get_u64(o, "ingressBurst", where, &b->in_burst, err) < 0 ||
			       get_u64(o, "egressRate", where, &b->out_rate, err) < 0 ||
			       get_u64(o, "egressBurst", where, &b->out_burst, err) < 0
		       ? -1
		       : 0;
}

static int check_pair(uint64_t rate, uint64_t burst, const char *dir, struct cni_error *err)
{
	if (burst == 0 && rate != 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				  "if rate is set, burst must also be set (%sRate %llu, %sBurst 0)", dir,
				  (unsigned long long)rate, dir);
	if (rate == 0 && burst != 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				  "if burst is set, rate must also be set (%sBurst %llu, %sRate 0)", dir,
				  (unsigned long long)burst, dir);
	if (burst / 8 >= UINT32_MAX)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "burst cannot be more than 4GB (%sBurst %llu bits)", dir,
				  (unsigned long long)burst);
	return 0;
}

/* The config's keys when any is present, else runtimeConfig.bandwidth. */
static int bw_load(const struct cni_call *c, struct bw *b, struct cni_error *err)
{
	memset(b, 0, sizeof(*b));
	static const char *const keys[] = { "ingressRate", "ingressBurst", "egressRate", "egressBurst" };
	bool statik = false;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		statik = statik || cj_get(c->conf, keys[i]);
	if (statik) {
		if (load_entry(c->conf, "", b, err) < 0)
			return -1;
	} else {
		json_t *rc = cni_call_runtime_config(c, "bandwidth");
		if (rc && !json_is_object(rc))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "runtimeConfig.bandwidth must be an object");
		if (rc && load_entry(rc, "runtimeConfig.bandwidth.", b, err) < 0)
			return -1;
	}
	if (check_pair(b->in_rate, b->in_burst, "ingress", err) < 0 || check_pair(b->out_rate, b->out_burst, "egress", err) < 0)
		return -1;
	return 0;
}

/* The reference's tbf numbers (its integer truncations included, so that
 * either suite's CHECK accepts the other's qdisc). */
static struct cnl_tbf tbf_for(uint64_t rate_bits, uint64_t burst_bits)
{
	uint64_t rate = rate_bits / 8;
	uint32_t burst = (uint32_t)(burst_bits / 8);
	double tick = cnl_tick_in_usec();
	uint32_t burst_time = (uint32_t)((double)burst * 1e6 / (double)rate);
	struct cnl_tbf t = {
		.rate = rate,
		.buffer = (uint32_t)((double)burst_time * tick),
		.limit = (uint32_t)((double)rate * (1e6 * LATENCY_MS / 1000.0) / 1e6) + burst,
	};
	return t;
}

/* "bwp" + the first 12 hex digits of sha512(network name + container id) */
static void ifb_name(const struct cni_call *c, char out[IF_NAMESIZE])
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s%s", c->net_name, c->container_id);
	uint8_t h[CNI_SHA512_LEN];
	cni_sha512(buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : strlen(buf), h);
	snprintf(out, IF_NAMESIZE, "bwp%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5]);
}

/* The host end of CNI_IFNAME's veth, as listed in prevResult. */
static int host_end(const struct cni_call *c, int nsfd, struct nl_sock *hsk, struct cnl_link *hl, struct cni_error *err)
{
	_cleanup_nl_ struct nl_sock *csk = cnl_open_netns(nsfd, err);
	if (!csk)
		return -1;
	struct cnl_link cl;
	struct cni_error e = { 0 };
	if (cnl_link_query(csk, c->ifname, 0, &cl, &e) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "container interface %s has no veth peer: %s", c->ifname,
				  e.msg);
	if (strcmp(cl.kind, "veth") || cl.link <= 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "container interface %s has no veth peer: it is a %s link",
				  c->ifname, *cl.kind ? cl.kind : "non-veth");
	if (cl.link_netnsid < 0 || cnl_link_query(hsk, NULL, cl.link, hl, &e) < 0 || strcmp(hl->kind, "veth"))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "veth peer with index %d is not in host ns", cl.link);
	for (size_t i = 0; c->prev && i < c->prev->n_interfaces; i++) {
		const struct cni_interface *ifc = &c->prev->interfaces[i];
		if (ifc->name && !strcmp(ifc->name, hl->name) && (!ifc->sandbox || !*ifc->sandbox))
			return 0;
	}
	return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "no veth peer of container interface found in host ns "
			  "(%s, the peer of %s, is not a host interface of prevResult)", hl->name, c->ifname);
}

/* ADD and CHECK: prevResult (no_prev: the reference's text for each), a
 * host netlink socket, the host end of the veth. */
static int open_attachment(struct cni_call *c, const char *no_prev, struct nl_sock **hsk, struct cnl_link *hl)
{
	if (!c->prev)
		return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG, "%s", no_prev);
	_cleanup_close_ int nsfd = netns_open(c->netns, &c->err);
	if (nsfd < 0 || !(*hsk = cnl_open(&c->err)))
		return -1;
	return host_end(c, nsfd, *hsk, hl, &c->err);
}

/* The kind of ingress-side qdisc (ingress, clsact) another tool already
 * put on the host end, or NULL. */
static const char *existing_ingress_kind(struct nl_sock *hsk, int ifindex)
{
	struct cnl_qdisc *q = NULL;
	size_t n = 0;
	struct cni_error e = { 0 };
	const char *kind = NULL;
	if (cnl_qdisc_list(hsk, ifindex, &q, &n, &e) == 0)
		for (size_t i = 0; i < n && !kind; i++) {
			if (!strcmp(q[i].kind, "ingress"))
				kind = "ingress";
			else if (!strcmp(q[i].kind, "clsact"))
				kind = "clsact";
		}
	free(q);
	return kind;
}

static int cmd_add(struct cni_call *c)
{
	struct cni_error *err = &c->err;
	struct bw b;
	if (bw_load(c, &b, err) < 0)
		return -1;
	if (bw_zero(&b)) {
		c->result = c->prev ? cni_result_dup(c->prev) : cni_result_new();
		return c->result ? 0 : cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	_cleanup_nl_ struct nl_sock *hsk = NULL;
	struct cnl_link hl;
	if (open_attachment(c, "must be called as chained plugin", &hsk, &hl) < 0)
		return -1;
	c->result = cni_result_dup(c->prev);
	if (!c->result)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");

	bool root_made = false, ingress_made = false;
	char ifb[IF_NAMESIZE] = "";
	int r = 0;
	if (b.in_rate) {
		struct cnl_tbf t = tbf_for(b.in_rate, b.in_burst);
		r = cnl_tbf_add(hsk, hl.ifindex, &t, err);
		root_made = r == 0;
	}
	if (r == 0 && b.out_rate) {
		ifb_name(c, ifb);
		char alias[256];
		snprintf(alias, sizeof(alias), ALIAS_PREFIX "%s:%s", c->net_name, c->container_id);
		struct cnl_link il;
		struct cnl_tbf t = tbf_for(b.out_rate, b.out_burst);
		struct cni_error e = { 0 };
		if (cnl_ifb_create(hsk, ifb, hl.mtu, alias, &e) < 0) {
			if (e.code == CNI_ERR_EXISTS) /* not ours to delete */
				ifb[0] = '\0';
			*err = e;
			r = -1;
		} else if (cnl_link_query(hsk, ifb, 0, &il, err) < 0) {
			r = -1;
		} else {
			char mac[18];
			if (cni_result_add_interface(c->result, ifb, il.has_mac ? cnl_mac_fmt(il.mac, mac) : NULL, NULL) < 0)
				r = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			/* The redirect must own the ingress hook: on another tool's
			 * ingress/clsact qdisc it would either take the container's
			 * packets before that tool's filters (a policy agent's, say)
			 * or never run after them. So that is refused, by name. */
			cni_error_clear(&e);
			const char *other;
			if (r == 0 && cnl_ingress_qdisc_add(hsk, hl.ifindex, &e) == 0)
				ingress_made = true;
			else if (r == 0 && e.code == CNI_ERR_EXISTS && (other = existing_ingress_kind(hsk, hl.ifindex)))
				r = cni_errorf(err, CNI_ERR_EXISTS,
					       "create ingress qdisc: host interface %s already has an %s qdisc (another "
					       "tool's); the egress limit needs the ingress hook to itself",
					       hl.name, other);
			else if (r == 0)
				r = (*err = e, -1);
			if (r == 0)
				r = cnl_u32_redirect_all(hsk, hl.ifindex, 0xffff0000u, il.ifindex, err);
			if (r == 0 && cnl_tbf_add(hsk, il.ifindex, &t, err) < 0)
				r = cni_error_wrap(err, "create ifb qdisc");
		}
	}
	if (r < 0) {
		struct cni_error ignore = { 0 };
		if (ifb[0])
			(void)cnl_link_del_name(hsk, ifb, &ignore);
		if (ingress_made)
			(void)cnl_qdisc_del(hsk, hl.ifindex, true, &ignore);
		if (root_made)
			(void)cnl_qdisc_del(hsk, hl.ifindex, false, &ignore);
	}
	return r;
}

static int cmd_del(struct cni_call *c)
{
	struct bw b;
	if (bw_load(c, &b, &c->err) < 0)
		return -1;
	_cleanup_nl_ struct nl_sock *hsk = cnl_open(&c->err);
	if (!hsk)
		return -1;
	char ifb[IF_NAMESIZE];
	ifb_name(c, ifb);
	struct cni_error e = { 0 };
	if (cnl_link_del_name(hsk, ifb, &e) < 0 && e.code != CNI_ERR_NOT_FOUND) {
		c->err = e;
		return -1;
	}
	return 0;
}

static int check_tbf(struct nl_sock *sk, int ifindex, const char *name, uint64_t rate, uint64_t burst,
		     struct cni_error *err)
{
	struct cnl_tbf want = tbf_for(rate, burst);
	struct cnl_qdisc *q = NULL;
	size_t n = 0;
	if (cnl_qdisc_list(sk, ifindex, &q, &n, err) < 0)
		return -1;
	int r = cni_errorf(err, CNI_ERR_CHECK_FAILED, "Failed to find qdisc: no tbf root qdisc on %s", name);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(q[i].kind, "tbf") || q[i].parent != TC_H_ROOT)
			continue;
		if (q[i].tbf.rate != want.rate)
			r = cni_errorf(err, CNI_ERR_CHECK_FAILED, "Rate doesn't match on %s: %llu bytes/s, configured %llu",
				       name, (unsigned long long)q[i].tbf.rate, (unsigned long long)want.rate);
		else if (q[i].tbf.limit != want.limit)
			r = cni_errorf(err, CNI_ERR_CHECK_FAILED, "Limit doesn't match on %s: %u bytes, configured %u", name,
				       q[i].tbf.limit, want.limit);
		else if (q[i].tbf.buffer != want.buffer)
			r = cni_errorf(err, CNI_ERR_CHECK_FAILED, "Buffer doesn't match on %s: %u ticks, configured %u", name,
				       q[i].tbf.buffer, want.buffer);
		else
			r = 0;
		break;
	}
	free(q);
	return r;
}

static int cmd_check(struct cni_call *c)
{
	struct cni_error *err = &c->err;
	struct bw b;
	if (bw_load(c, &b, err) < 0)
		return -1;
	_cleanup_nl_ struct nl_sock *hsk = NULL;
	struct cnl_link hl;
	if (open_attachment(c, "must be called as a chained plugin", &hsk, &hl) < 0)
		return -1;
	if (b.in_rate && check_tbf(hsk, hl.ifindex, hl.name, b.in_rate, b.in_burst, err) < 0)
		return -1;
	if (b.out_rate) {
		char ifb[IF_NAMESIZE];
		ifb_name(c, ifb);
		struct cnl_link il;
		if (cnl_link_query(hsk, ifb, 0, &il, err) < 0)
			return cni_errorf(err, CNI_ERR_CHECK_FAILED, "get ifb device: %s not found", ifb);
		if (check_tbf(hsk, il.ifindex, ifb, b.out_rate, b.out_burst, err) < 0)
			return -1;
	}
	return 0;
}

struct gc_ctx {
	const char *prefix; /* ALIAS_PREFIX "<net>:" */
	const struct cni_attachment *valid;
	size_t n_valid;
	int *stale;
	size_t n, cap;
	bool oom;
};

static bool gc_match(const struct cnl_link *l, void *arg)
{
	struct gc_ctx *g = arg;
	size_t pl = strlen(g->prefix);
	if (strcmp(l->kind, "ifb") || strncmp(l->alias, g->prefix, pl))
		return false;
	const char *cid = l->alias + pl;
	for (size_t i = 0; i < g->n_valid; i++)
		if (!strcmp(g->valid[i].container_id, cid))
			return false;
	if (cni_grow((void **)&g->stale, &g->cap, g->n, sizeof(*g->stale)) < 0)
		g->oom = true;
	else
		g->stale[g->n++] = l->ifindex;
	return false; /* see every link */
}

static int cmd_gc(struct cni_call *c)
{
	struct cni_attachment *valid = NULL;
	size_t n_valid = 0;
	bool present = false;
	if (cni_gc_valid_attachments(c->conf, &valid, &n_valid, &present, &c->err) < 0)
		return -1;
	int r = 0;
	if (present) {
		_cleanup_nl_ struct nl_sock *hsk = cnl_open(&c->err);
		char prefix[300];
		snprintf(prefix, sizeof(prefix), ALIAS_PREFIX "%s:", c->net_name);
		struct gc_ctx g = { .prefix = prefix, .valid = valid, .n_valid = n_valid };
		struct cnl_link unused;
		struct cni_error e = { 0 };
		if (!hsk)
			r = -1;
		else if (cnl_link_find(hsk, gc_match, &g, &unused, &e) < 0 && e.code != CNI_ERR_NOT_FOUND)
			r = (c->err = e, -1);
		for (size_t i = 0; r == 0 && i < g.n; i++)
			(void)cnl_link_del(hsk, g.stale[i], &e);
		free(g.stale);
		if (r == 0 && g.oom)
			r = cni_errorf(&c->err, CNI_ERR_INTERNAL, "out of memory");
	}
	cni_attachments_free(valid, n_valid);
	return r;
}

static int cmd_status(struct cni_call *c)
{
	(void)c;
	return 0;
}

static const char *const versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL };

static const struct cni_plugin plugin = {
	.name = "bandwidth",
	.about = "limits a container's traffic with token buckets (tbf, ifb)",
	.versions = versions,
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
	.status = cmd_status,
};

int main(int argc, char **argv)
{
	return cni_plugin_main(&plugin, argc, argv);
}
