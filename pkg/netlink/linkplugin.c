/* Common ADD tail, DEL and CHECK of the link plugins. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cni/exec.h"
#include "cni/json.h"
#include "cni/linkplugin.h"
#include "cni/netlink.h"
#include "cni/netns.h"

int lp_open(struct cni_call *c, struct lp_ctx *x)
{
	memset(x, 0, sizeof(*x));
	x->call = c;
	x->nsfd = netns_open(c->netns, &c->err);
	if (x->nsfd < 0)
		return cni_error_wrap(&c->err, "failed to open netns \"%s\"", c->netns);
	x->sk_host = cnl_open(&c->err);
	if (!x->sk_host)
		return -1;
	x->sk_ct = cnl_open_netns(x->nsfd, &c->err);
	if (!x->sk_ct)
		return -1;
	return 0;
}

void lp_close(struct lp_ctx *x)
{
	if (x->sk_ct)
		cnl_close(x->sk_ct);
	if (x->sk_host)
		cnl_close(x->sk_host);
	if (x->nsfd >= 0)
		close(x->nsfd);
	x->sk_ct = x->sk_host = NULL;
	x->nsfd = -1;
}

struct conf_args {
	struct nl_sock *sk;
	const char *ifname;
	const struct cni_result *r;
	bool notify, ndisc;
};

static int configure_in_ns(void *arg, struct cni_error *err)
{
	struct conf_args *a = arg;
	struct cnl_link l;
	if (cnl_link_query(a->sk, a->ifname, 0, &l, err) < 0)
		return cni_error_wrap(err, "failed to lookup \"%s\"", a->ifname);
	if (a->notify)
		cnl_link_notify_peers_on(a->sk, &l, a->ndisc);
	return cnl_configure_link(a->sk, &l, a->r, err);
}

static int copy_ips(struct cni_result *dst, const struct cni_result *src, struct cni_error *err)
{
	for (size_t i = 0; i < src->n_ips; i++) {
		const struct cni_ip *gw = cni_ip_is_set(&src->ips[i].gateway) ? &src->ips[i].gateway : NULL;
		if (cni_result_add_ip(dst, &src->ips[i].address, gw, 0) < 0)
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < src->n_routes; i++)
		if (cni_result_add_route(dst, &src->routes[i]) < 0)
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	return 0;
}

static int finish_add(struct lp_ctx *x, const struct cnl_link *link, const struct lp_add_opts *o)
{
	struct cni_call *c = x->call;
	struct cni_error *err = &c->err;
	_cleanup_result_ struct cni_result *ipam = NULL;
	_cleanup_result_ struct cni_result *r = cni_result_new();
	bool ipam_done = false;
	char mac[18] = "";
	if (!r) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	if (link->has_mac)
		cnl_mac_fmt(link->mac, mac);
	if (cni_result_add_interface(r, c->ifname, link->has_mac ? mac : NULL, c->netns) < 0) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	const struct cni_result *ips = o->static_ips;
	if (o->ipam_type) {
		if (cni_delegate(c, o->ipam_type, CNI_CMD_ADD, &ipam, err) < 0)
			goto fail;
		ipam_done = true;
		if (ipam->n_ips == 0) {
			cni_errorf(err, CNI_ERR_INVALID_CONFIG, "IPAM plugin returned missing IP config");
			goto fail;
		}
		ips = ipam;
	}
	if (ips && copy_ips(r, ips, err) < 0)
		goto fail;
	if (r->n_ips) {
		struct conf_args a = {
			.sk = x->sk_ct, .ifname = c->ifname, .r = r,
			.notify = o->notify_sysctls, .ndisc = o->ipv6_ndisc_notify,
		};
		if (netns_run_fd(x->nsfd, configure_in_ns, &a, err) < 0)
			goto fail;
	} else if (o->bring_up_l2) {
		struct sublink_change up = SUBLINK_CHANGE_INIT;
		up.up = 1;
		if (sublink_change(x->sk_ct, link->ifindex, &up, err) < 0) {
			cni_error_wrap(err, "failed to set \"%s\" UP", c->ifname);
			goto fail;
		}
	}
	json_t *dnsj = cj_get(c->conf, "dns");
	bool conf_dns = cni_dns_json_present(dnsj);
	if (o->dns == LP_DNS_CONF || (o->dns == LP_DNS_IPAM_UNLESS_CONF && conf_dns)) {
		if (dnsj && cni_dns_from_json(dnsj, &r->dns, err) < 0)
			goto fail;
	} else if (ipam && cni_dns_copy(&r->dns, &ipam->dns) < 0) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	c->result = TAKE_PTR(r);
	return 0;
fail:;
	struct cni_error ignored = { 0 };
	if (o->undo_link)
		o->undo_link(x, link, o->undo_arg);
	else
		cnl_link_del(x->sk_ct, link->ifindex, &ignored);
	if (ipam_done) {
		struct cni_error e2 = { 0 };
		cni_delegate(c, o->ipam_type, CNI_CMD_DEL, NULL, &e2);
	}
	return -1;
}

int lp_del(struct cni_call *c)
{
	const char *ipam_type = cni_ipam_type(c->conf);
	/* IPAM release in a second thread while the link goes (its kernel
	 * teardown waits for an RCU barrier); an IPAM error still wins */
	struct cni_delegate_bg ipam;
	if (ipam_type)
		cni_delegate_bg_start(&ipam, c, ipam_type, CNI_CMD_DEL);
	struct cni_error lerr = { 0 };
	if (*c->netns && !c->netns_gone) {
		_cleanup_close_ int nsfd = netns_open(c->netns, &lerr);
		if (nsfd < 0) {
			cni_error_clear(&lerr); /* vanished meanwhile */
		} else {
			_cleanup_nl_ struct nl_sock *sk = cnl_open_netns(nsfd, &lerr);
			if (sk && cnl_link_del_name(sk, c->ifname, &lerr) < 0 && lerr.code == CNI_ERR_NOT_FOUND)
				cni_error_clear(&lerr); /* already gone */
		}
	}
	if (ipam_type && cni_delegate_bg_wait(&ipam, &c->err) < 0)
		return -1;
	if (lerr.code) {
		c->err = lerr;
		return -1;
	}
	return 0;
}

static int check_begin(struct lp_ctx *x, const char *ipam_type, struct cnl_link *link, int *iface)
{
	struct cni_call *c = x->call;
	if (ipam_type && cni_delegate(c, ipam_type, CNI_CMD_CHECK, NULL, &c->err) < 0)
		return -1;
	if (!c->prev)
		return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG, "required prevResult missing");
	int idx = -1;
	for (size_t i = 0; i < c->prev->n_interfaces; i++) {
		const struct cni_interface *in = &c->prev->interfaces[i];
		if (!strcmp(in->name, c->ifname) && in->sandbox && !strcmp(in->sandbox, c->netns)) {
			idx = (int)i;
			break;
		}
	}
	if (idx < 0)
		return cni_errorf(&c->err, CNI_ERR_CHECK_FAILED,
				  "prevResult has no interface \"%s\" with sandbox \"%s\"", c->ifname, c->netns);
	*iface = idx;
	if (cnl_link_query(x->sk_ct, c->ifname, 0, link, &c->err) < 0) {
		c->err.code = CNI_ERR_CHECK_FAILED;
		return cni_error_wrap(&c->err, "container interface \"%s\" of prevResult not found", c->ifname);
	}
	return 0;
}

static int check_mac(struct lp_ctx *x, const struct cnl_link *link, int iface)
{
	struct cni_call *c = x->call;
	const char *want = c->prev->interfaces[iface].mac;
	if (!want || !*want)
		return 0;
	uint8_t m[6];
	char have[18] = "";
	if (link->has_mac)
		cnl_mac_fmt(link->mac, have);
	if (cnl_mac_parse(want, m) < 0 || !link->has_mac || memcmp(m, link->mac, 6))
		return cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "interface %s Mac %s doesn't match container Mac: %s",
				  c->ifname, want, have);
	return 0;
}

static int check_ips(struct lp_ctx *x, const struct cnl_link *link, int iface)
{
	struct cni_call *c = x->call;
	if (cnl_check_addresses(x->sk_ct, link->ifindex, c->ifname, c->prev, iface, &c->err) < 0)
		return -1;
	return cnl_check_routes(x->sk_ct, c->prev, &c->err);
}

int lp_forward_ipam(struct cni_call *c)
{
	const char *t = cni_ipam_type(c->conf);
	if (!t)
		return 0;
	return cni_delegate(c, t, c->cmd, NULL, &c->err);
}

int lp_mac(struct cni_call *c, const char *conf_mac, uint8_t mac[6], bool *has_mac)
{
	const char *s = NULL;
	json_t *rc = cni_call_runtime_config(c, "mac");
	const char *a = cni_call_arg(c, "MAC");
	if (rc && json_is_string(rc) && *json_string_value(rc))
		s = json_string_value(rc);
	else if (a && *a)
		s = a;
	else if (conf_mac && *conf_mac)
		s = conf_mac;
	*has_mac = false;
	if (!s)
		return 0;
	if (cnl_mac_parse(s, mac) < 0)
		return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG, "invalid args %s for MAC addr", s);
	*has_mac = true;
	return 0;
}

int lp_add(struct cni_call *c, const struct lp_spec *s, void *conf)
{
	struct lp_ctx x;
	struct cnl_link link;
	struct lp_add_opts o = { 0 };
	int r = lp_open(c, &x);
	if (r == 0 && s->load)
		r = s->load(&x, conf);
	if (r == 0)
		r = s->create(&x, conf, &link, &o);
	if (r == 0)
		r = finish_add(&x, &link, &o);
	lp_close(&x);
	return r;
}

int lp_check(struct cni_call *c, const struct lp_spec *s, void *conf)
{
	struct lp_ctx x;
	struct cnl_link link;
	int iface = -1;
	int r = lp_open(c, &x);
	if (r == 0 && s->load)
		r = s->load(&x, conf);
	if (r == 0)
		r = check_begin(&x, cni_ipam_type(c->conf), &link, &iface);
	if (r == 0 && s->kind && strcmp(link.kind, s->kind))
		r = cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "container interface %s not of type %s", c->ifname, s->kind);
	if (r == 0 && s->check)
		r = s->check(&x, conf, &link);
	if (r == 0)
		r = check_mac(&x, &link, iface);
	if (r == 0)
		r = check_ips(&x, &link, iface);
	lp_close(&x);
	return r;
}

int lp_master_parse(struct cni_call *c, struct lp_master *m)
{
	memset(m, 0, sizeof(*m));
	if (cj_str(c->conf, "master", &m->name, &c->err) < 0 || cj_int(c->conf, "mtu", &m->mtu, &c->err) < 0 ||
	    cj_bool(c->conf, "linkInContainer", &m->in_container, &c->err) < 0)
		return -1;
	return 0;
}

int lp_master_resolve(struct lp_ctx *x, struct lp_master *m, bool mtu_max)
{
	struct cni_error *err = &x->call->err;
	struct nl_sock *sk = m->in_container ? x->sk_ct : x->sk_host;
	if (!m->name || !*m->name) {
		if (sublink_default_route_ifname(sk, m->buf, err) < 0)
			return -1;
		m->name = m->buf;
	}
	if (cnl_link_query(sk, m->name, 0, &m->link, err) < 0)
		return cni_error_wrap(err, "failed to lookup master \"%s\"", m->name);
	if (mtu_max && (m->mtu < 0 || m->mtu > m->link.mtu))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid MTU %lld, must be [0, master MTU(%u)]", m->mtu,
				  m->link.mtu);
	return 0;
}

int lp_create_sublink(struct lp_ctx *x, struct sublink_spec *spec, bool in_container, struct cnl_link *link)
{
	spec->ns_fd = in_container ? -1 : x->nsfd;
	return sublink_create_in(in_container ? x->sk_ct : x->sk_host, x->sk_ct, spec, x->call->ifname, link,
				 &x->call->err);
}
