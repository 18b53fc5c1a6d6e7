/* dummy: a dummy interface in the container carrying the IPAM addresses
 * (e.g. a stable service address). ipam is required. The result keeps the
 * IPAM dns unless the config has its own `dns`. A kernel without the dummy
 * driver gets error 108. */
#include <string.h>

#include "cni/exec.h"
#include "cni/json.h"
#include "cni/linkplugin.h"

static int cmd_add(struct cni_call *c)
{
	const char *ipam = cni_ipam_type(c->conf);
	if (!ipam)
		return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG, "dummy interface requires an IPAM configuration");
	struct lp_ctx x;
	int r = lp_open(c, &x);
	if (r == 0) {
		struct sublink_spec spec = { .kind = "dummy", .ns_fd = x.nsfd };
		struct cnl_link link;
		/* sent from the plugin's netns straight into the container */
		r = sublink_create_in(x.sk_host, x.sk_ct, &spec, c->ifname, &link, &c->err);
		if (r == 0) {
			struct lp_add_opts o = { .ipam_type = ipam, .dns = LP_DNS_IPAM_UNLESS_CONF, .link_kind = "dummy" };
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
	struct cnl_link link;
	int iface = -1;
	if (r == 0)
		r = lp_check_begin(&x, cni_ipam_type(c->conf), &link, &iface);
	if (r == 0 && strcmp(link.kind, "dummy"))
		r = cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "container interface %s not of type dummy", c->ifname);
	if (r == 0)
		r = lp_check_mac(&x, &link, iface);
	if (r == 0)
		r = lp_check_ips(&x, &link, iface);
	lp_close(&x);
	return r;
}

static const struct cni_plugin plugin = {
	.name = "dummy",
	.about = "puts a dummy interface with IPAM addresses into the container",
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
