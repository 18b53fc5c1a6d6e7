/* ipvlan: containers share the master's MAC and are told apart by IP.
 *
 * Keys: master (default: the default-route interface; when chained and
 * unset, the single interface of prevResult), mode (l2 | l3 | l3s, default
 * l2), flag (bridge | private | vepa, default bridge: the kernel's ipvlan
 * flags, not in the reference), mtu, linkInContainer, ipam (when empty, the
 * IPs of prevResult are applied; one of the two is required), dns (the
 * result's dns is this one).
 *
 * DEL needs neither the master nor a default route: it releases IPAM and
 * deletes the link by name. A kernel without ipvlan gets error 108. */
#include <linux/if_link.h>
#include <string.h>

#include "cni/exec.h"
#include "cni/json.h"
#include "cni/linkplugin.h"

struct conf {
	const char *master;
	char master_buf[IF_NAMESIZE];
	const char *mode_s, *flag_s;
	uint16_t mode, flags;
	long long mtu;
	bool link_in_container;
	const char *ipam_type;
	struct cnl_link master_info;
};

static int load_conf(struct lp_ctx *x, struct conf *k)
{
	struct cni_call *c = x->call;
	struct cni_error *err = &c->err;
	memset(k, 0, sizeof(*k));
	if (cj_str(c->conf, "master", &k->master, err) < 0 || cj_str(c->conf, "mode", &k->mode_s, err) < 0 ||
	    cj_str(c->conf, "flag", &k->flag_s, err) < 0 || cj_int(c->conf, "mtu", &k->mtu, err) < 0 ||
	    cj_bool(c->conf, "linkInContainer", &k->link_in_container, err) < 0)
		return -1;
	if (sublink_ipvlan_mode_parse(k->mode_s, &k->mode) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "unknown ipvlan mode: \"%s\"", k->mode_s);
	if (sublink_ipvlan_flag_parse(k->flag_s, &k->flags) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				  "unknown ipvlan flag: \"%s\" (bridge, private or vepa)", k->flag_s);
	if (k->mtu < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid MTU %lld", k->mtu);
	k->ipam_type = cni_ipam_type(c->conf);
	struct nl_sock *sk = k->link_in_container ? x->sk_ct : x->sk_host;
	if (!k->master || !*k->master) {
		if (c->prev) {
			if (c->prev->n_interfaces != 1 || !c->prev->interfaces[0].name ||
			    !*c->prev->interfaces[0].name)
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
						  "chained master failure. PrevResult lacks a single named interface");
			snprintf(k->master_buf, sizeof(k->master_buf), "%s", c->prev->interfaces[0].name);
		} else if (sublink_default_route_ifname(sk, k->master_buf, err) < 0) {
			return -1;
		}
		k->master = k->master_buf;
	}
	if (cnl_link_query(sk, k->master, 0, &k->master_info, err) < 0)
		return cni_error_wrap(err, "failed to lookup master \"%s\"", k->master);
	return 0;
}

static int cmd_add(struct cni_call *c)
{
	struct lp_ctx x;
	int r = lp_open(c, &x);
	struct conf k;
	if (r == 0)
		r = load_conf(&x, &k);
	const struct cni_result *static_ips = NULL;
	if (r == 0 && !k.ipam_type) {
		if (c->prev && c->prev->n_ips)
			static_ips = c->prev;
		else
			r = cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG,
				       "ipvlan needs \"ipam\" (with a type) or a prevResult with IPs");
	}
	if (r == 0) {
		struct sublink_spec spec = {
			.kind = "ipvlan", .master_index = k.master_info.ifindex,
			.ns_fd = k.link_in_container ? -1 : x.nsfd, .mtu = (int)k.mtu,
			.ipvlan_mode = k.mode, .ipvlan_flags = k.flags,
		};
		struct cnl_link link;
		r = sublink_create_in(k.link_in_container ? x.sk_ct : x.sk_host, x.sk_ct, &spec, c->ifname, &link,
				      &c->err);
		if (r == 0) {
			struct lp_add_opts o = {
				.ipam_type = k.ipam_type, .static_ips = static_ips, .dns = LP_DNS_CONF,
				.notify_sysctls = true, .ipv6_ndisc_notify = true, .link_kind = "ipvlan",
			};
			r = lp_finish_add(&x, &link, &o);
		}
	}
	lp_close(&x);
	return r;
}

static int cmd_del(struct cni_call *c)
{
	return lp_del(c, cni_ipam_type(c->conf));
}

static int cmd_check(struct cni_call *c)
{
	struct lp_ctx x;
	int r = lp_open(c, &x);
	struct conf k;
	struct cnl_link link;
	int iface = -1;
	if (r == 0)
		r = load_conf(&x, &k);
	if (r == 0)
		r = lp_check_begin(&x, k.ipam_type, &link, &iface);
	if (r == 0 && strcmp(link.kind, "ipvlan"))
		r = cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "container interface %s not of type ipvlan", c->ifname);
	if (r == 0 && link.ipvlan_mode != k.mode)
		r = cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "container ipvlan mode %s does not match expected value: %s",
			       sublink_ipvlan_mode_name(link.ipvlan_mode), sublink_ipvlan_mode_name(k.mode));
	if (r == 0 && (link.ipvlan_flags & (IPVLAN_F_PRIVATE | IPVLAN_F_VEPA)) != k.flags)
		r = cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "container ipvlan flag %s does not match expected value: %s",
			       sublink_ipvlan_flag_name(link.ipvlan_flags), sublink_ipvlan_flag_name(k.flags));
	if (r == 0)
		r = lp_check_mac(&x, &link, iface);
	if (r == 0)
		r = lp_check_ips(&x, &link, iface);
	lp_close(&x);
	return r;
}

static const struct cni_plugin plugin = {
	.name = "ipvlan",
	.about = "attaches a container to the master's network by IP, sharing the master's MAC",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.status = lp_forward_ipam,
	.gc = lp_forward_ipam,
};

int main(int argc, char **argv)
{
	return cni_plugin_main(&plugin, argc, argv);
}
