/* static: hand out the addresses the configuration names.
 *
 * ADD returns ipam.addresses (plus CNI_ARGS IP=/GATEWAY=, or instead
 * args.cni.ips, or instead runtimeConfig.ips), ipam.routes (ECMP entries
 * kept as given) and ipam.dns. Nothing is stored, so DEL has nothing to
 * undo. CHECK needs prevResult and fails when a configured address is
 * missing from it or carries another gateway. */
#include "cni/ipam.h"
#include "cni/plugin.h"

static int load(struct cni_call *c, struct ipam_static_config *cfg)
{
	return ipam_static_config_parse(c->conf, c->version, cni_call_arg(c, "IP"), cni_call_arg(c, "GATEWAY"), cfg,
					&c->err);
}

static int cmd_add(struct cni_call *c)
{
	struct ipam_static_config cfg;
	if (load(c, &cfg) < 0)
		return -1;
	int r = -1;
	_cleanup_result_ struct cni_result *res = cni_result_new();
	if (!res)
		goto oom;
	for (size_t i = 0; i < cfg.n_addrs; i++)
		if (cni_result_add_ip(res, &cfg.addrs[i].address, &cfg.addrs[i].gateway, -1) < 0)
			goto oom;
	for (size_t i = 0; i < cfg.n_routes; i++)
		if (cni_result_add_route(res, &cfg.routes[i]) < 0)
			goto oom;
	if (cni_dns_copy(&res->dns, &cfg.dns) < 0)
		goto oom;
	c->result = TAKE_PTR(res);
	r = 0;
	goto out;
oom:
	cni_errorf(&c->err, CNI_ERR_INTERNAL, "out of memory");
out:
	ipam_static_config_free(&cfg);
	return r;
}

static int cmd_del(struct cni_call *c)
{
	(void)c;
	return 0;
}

static int check(struct cni_call *c, const struct ipam_static_config *cfg)
{
	if (!c->prev)
		return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG, "Required prevResult missing");
	for (size_t i = 0; i < cfg->n_addrs; i++) {
		const struct ipam_static_addr *a = &cfg->addrs[i];
		char ip[CNI_IP_STRLEN];
		bool found = false;
		for (size_t k = 0; k < c->prev->n_ips && !found; k++) {
			const struct cni_ipconfig *p = &c->prev->ips[k];
			if (!cni_ip_eq(&p->address.ip, &a->address.ip))
				continue;
			found = true;
			if (cni_ip_is_set(&a->gateway) && !cni_ip_eq(&a->gateway, &p->gateway))
				return cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "static: Failed to match addr %s on interface %s",
						  cni_ip_fmt(&p->address.ip, ip), c->ifname);
		}
		if (!found)
			return cni_errorf(&c->err, CNI_ERR_CHECK_FAILED,
					  "static: address %s is missing from prevResult of interface %s",
					  cni_ip_fmt(&a->address.ip, ip), c->ifname);
	}
	return 0;
}

static int cmd_check(struct cni_call *c)
{
	struct ipam_static_config cfg;
	if (load(c, &cfg) < 0)
		return -1;
	int r = check(c, &cfg);
	ipam_static_config_free(&cfg);
	return r;
}

static const char *const args_keys[] = { "IP", "GATEWAY", NULL };

static const struct cni_plugin plugin = {
	.name = "static",
	.about = "returns the IP addresses, routes and DNS settings of its configuration",
	.args_keys = args_keys,
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
};

int main(int argc, char **argv)
{
	return cni_plugin_main(&plugin, argc, argv);
}
