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
	struct lp_master master;
	const char *mode_s, *flag_s;
	uint16_t mode, flags;
};

static int load_conf(struct lp_ctx *x, void *arg)
{
	struct conf *k = arg;
	struct cni_call *c = x->call;
	struct cni_error *err = &c->err;
	memset(k, 0, sizeof(*k));
	if (lp_master_parse(c, &k->master) < 0 || cj_str(c->conf, "mode", &k->mode_s, err) < 0 ||
	    cj_str(c->conf, "flag", &k->flag_s, err) < 0)
		return -1;
	if (sublink_ipvlan_mode_parse(k->mode_s, &k->mode) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "unknown ipvlan mode: \"%s\"", k->mode_s);
	if (sublink_ipvlan_flag_parse(k->flag_s, &k->flags) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				  "unknown ipvlan flag: \"%s\" (bridge, private or vepa)", k->flag_s);
	if (k->master.mtu < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid MTU %lld", k->master.mtu);
	if ((!k->master.name || !*k->master.name) && c->prev) {
		/* chained: the single interface of prevResult */
		if (c->prev->n_interfaces != 1 || !c->prev->interfaces[0].name || !*c->prev->interfaces[0].name)
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
					  "chained master failure. PrevResult lacks a single named interface");
		snprintf(k->master.buf, sizeof(k->master.buf), "%s", c->prev->interfaces[0].name);
		k->master.name = k->master.buf;
	}
	return lp_master_resolve(x, &k->master, false);
}

static int create_link(struct lp_ctx *x, void *arg, struct cnl_link *link, struct lp_add_opts *o)
{
	struct conf *k = arg;
	struct cni_call *c = x->call;
	*o = (struct lp_add_opts){
		.ipam_type = cni_ipam_type(c->conf), .dns = LP_DNS_CONF, .notify_sysctls = true,
		.ipv6_ndisc_notify = true, .link_kind = "ipvlan",
	};
	if (!o->ipam_type) {
		if (!c->prev || !c->prev->n_ips)
			return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG,
					  "ipvlan needs \"ipam\" (with a type) or a prevResult with IPs");
		o->static_ips = c->prev;
	}
	struct sublink_spec spec = {
		.kind = "ipvlan", .master_index = k->master.link.ifindex, .mtu = (int)k->master.mtu,
		.ipvlan_mode = k->mode, .ipvlan_flags = k->flags,
	};
	return lp_create_sublink(x, &spec, k->master.in_container, link);
}

static int check_link(struct lp_ctx *x, void *arg, const struct cnl_link *link)
{
	struct conf *k = arg;
	struct cni_error *err = &x->call->err;
	if (link->ipvlan_mode != k->mode)
		return cni_errorf(err, CNI_ERR_CHECK_FAILED, "container ipvlan mode %s does not match expected value: %s",
				  sublink_ipvlan_mode_name(link->ipvlan_mode), sublink_ipvlan_mode_name(k->mode));
	if ((link->ipvlan_flags & (IPVLAN_F_PRIVATE | IPVLAN_F_VEPA)) != k->flags)
		return cni_errorf(err, CNI_ERR_CHECK_FAILED, "container ipvlan flag %s does not match expected value: %s",
				  sublink_ipvlan_flag_name(link->ipvlan_flags), sublink_ipvlan_flag_name(k->flags));
	return 0;
}

static const struct lp_spec ipvlan = {
	.kind = "ipvlan", .load = load_conf, .create = create_link, .check = check_link,
};

static int cmd_add(struct cni_call *c)
{
	struct conf k;
	return lp_add(c, &ipvlan, &k);
}

static int cmd_check(struct cni_call *c)
{
	struct conf k;
	return lp_check(c, &ipvlan, &k);
}

static const struct cni_plugin plugin = {
	.name = "ipvlan",
	.about = "attaches a container to the master's network by IP, sharing the master's MAC",
	.add = cmd_add,
	.del = lp_del,
	.check = cmd_check,
	.status = lp_forward_ipam,
	.gc = lp_forward_ipam,
};

int main(int argc, char **argv)
{
	return cni_plugin_main(&plugin, argc, argv);
}
