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
	if (a->notify) {
		struct cni_error ignored = { 0 };
		(void)cni_sysctl_setf("1", &ignored, "net/ipv4/conf/%s/arp_notify", a->ifname);
		if (a->ndisc)
			(void)cni_sysctl_setf("1", &ignored, "net/ipv6/conf/%s/ndisc_notify", a->ifname);
	}
	return cnl_configure_iface(a->sk, a->ifname, a->r, err);
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

int lp_finish_add(struct lp_ctx *x, const struct cnl_link *link, const struct lp_add_opts *o)
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

int lp_del(struct cni_call *c, const char *ipam_type)
{
	if (ipam_type && cni_delegate(c, ipam_type, CNI_CMD_DEL, NULL, &c->err) < 0)
		return -1;
	if (!*c->netns || c->netns_gone)
		return 0;
	_cleanup_close_ int nsfd = netns_open(c->netns, &c->err);
	if (nsfd < 0) {
		cni_error_clear(&c->err);
		return 0; /* vanished meanwhile */
	}
	_cleanup_nl_ struct nl_sock *sk = cnl_open_netns(nsfd, &c->err);
	if (!sk)
		return -1;
	if (cnl_link_del_name(sk, c->ifname, &c->err) < 0) {
		if (c->err.code != CNI_ERR_NOT_FOUND)
			return -1;
		cni_error_clear(&c->err); /* already gone */
	}
	return 0;
}

int lp_check_begin(struct lp_ctx *x, const char *ipam_type, struct cnl_link *link, int *iface)
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

int lp_check_mac(struct lp_ctx *x, const struct cnl_link *link, int iface)
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

int lp_check_ips(struct lp_ctx *x, const struct cnl_link *link, int iface)
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

const char *lp_mac_choice(struct cni_call *c, const char *conf_mac)
{
	json_t *rc = cni_call_runtime_config(c, "mac");
	if (rc && json_is_string(rc) && *json_string_value(rc))
		return json_string_value(rc);
	const char *a = cni_call_arg(c, "MAC");
	if (a && *a)
		return a;
	return conf_mac && *conf_mac ? conf_mac : NULL;
}
