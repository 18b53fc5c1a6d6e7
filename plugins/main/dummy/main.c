/* dummy: a dummy interface in the container carrying the IPAM addresses
 * (e.g. a stable service address). ipam is required. The result keeps the
 * IPAM dns unless the config has its own `dns`. A kernel without the dummy
 * driver gets error 108. */
#include <string.h>

#include "cni/exec.h"
#include "cni/json.h"
#include "cni/linkplugin.h"

static int create_link(struct lp_ctx *x, void *conf, struct cnl_link *link, struct lp_add_opts *o)
{
	(void)conf;
	struct sublink_spec spec = { .kind = "dummy" };
	*o = (struct lp_add_opts){
		.ipam_type = cni_ipam_type(x->call->conf), .dns = LP_DNS_IPAM_UNLESS_CONF, .link_kind = "dummy",
	};
	/* sent from the plugin's netns straight into the container */
	return lp_create_sublink(x, &spec, false, link);
}

static const struct lp_spec dummy = { .kind = "dummy", .create = create_link };

static int cmd_add(struct cni_call *c)
{
	if (!cni_ipam_type(c->conf))
		return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG, "dummy interface requires an IPAM configuration");
	return lp_add(c, &dummy, NULL);
}

static int cmd_check(struct cni_call *c)
{
	return lp_check(c, &dummy, NULL);
}

static const struct cni_plugin plugin = {
	.name = "dummy",
	.about = "puts a dummy interface with IPAM addresses into the container",
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
