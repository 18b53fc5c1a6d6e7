/* vlan: an 802.1q sub-interface of `master` in the container.
 *
 * Keys: master (required; in the container netns with linkInContainer),
 * vlanId (0-4094), mtu (0..master MTU), linkInContainer, ipam (required),
 * dns (the result's dns is this one). Created with a temporary name
 * directly in the container netns and renamed. DEL resolves nothing: it
 * releases IPAM and deletes the link by name, so it succeeds when the
 * master is gone (the reference fails there). A kernel without 8021q gets
 * error 108. */
#include <string.h>

#include "cni/exec.h"
#include "cni/json.h"
#include "cni/linkplugin.h"

struct conf {
	struct lp_master master;
	long long vlan_id;
};

static int load_conf(struct lp_ctx *x, void *arg)
{
	struct conf *k = arg;
	struct cni_call *c = x->call;
	struct cni_error *err = &c->err;
	memset(k, 0, sizeof(*k));
	k->vlan_id = -1;
	if (lp_master_parse(c, &k->master) < 0 || cj_int(c->conf, "vlanId", &k->vlan_id, err) < 0)
		return -1;
	if (!k->master.name || !*k->master.name)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "\"master\" field is required. It specifies the host interface name to create the VLAN for");
	if (k->vlan_id < 0 || k->vlan_id > 4094)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid VLAN ID %lld (must be between 0 and 4094 inclusive)",
				  k->vlan_id);
	if (!cni_ipam_type(c->conf))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "vlan interface requires an IPAM configuration (ipam.type)");
	return lp_master_resolve(x, &k->master, true);
}

static int create_link(struct lp_ctx *x, void *arg, struct cnl_link *link, struct lp_add_opts *o)
{
	struct conf *k = arg;
	struct sublink_spec spec = {
		.kind = "vlan", .master_index = k->master.link.ifindex, .mtu = (int)k->master.mtu,
		.vlan_id = (int)k->vlan_id,
	};
	*o = (struct lp_add_opts){ .ipam_type = cni_ipam_type(x->call->conf), .dns = LP_DNS_CONF, .link_kind = "vlan" };
	return lp_create_sublink(x, &spec, k->master.in_container, link);
}

static int check_link(struct lp_ctx *x, void *arg, const struct cnl_link *link)
{
	struct conf *k = arg;
	if (link->vlan_id != k->vlan_id)
		return cni_errorf(&x->call->err, CNI_ERR_CHECK_FAILED,
				  "container vlan id %d does not match expected value: %lld", link->vlan_id, k->vlan_id);
	return 0;
}

static const struct lp_spec vlan = {
	.kind = "vlan", .load = load_conf, .create = create_link, .check = check_link,
};

static int cmd_add(struct cni_call *c)
{
	struct conf k;
	return lp_add(c, &vlan, &k);
}

static int cmd_check(struct cni_call *c)
{
	struct conf k;
	return lp_check(c, &vlan, &k);
}

static const struct cni_plugin plugin = {
	.name = "vlan",
	.about = "attaches a container to an 802.1q VLAN of the master",
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
