/* macvlan: give the container its own MAC address on the master's network.
 *
 * Keys: master (default: the interface of the default route, looked up in
 * the container netns when linkInContainer), mode (bridge | private | vepa |
 * passthru; default bridge), mtu (0..master MTU), mac,
 * linkInContainer, bcqueuelen, ipam (empty = L2, the link is only set up),
 * dns (the result's dns is always this one). MAC precedence:
 * runtimeConfig.mac > CNI_ARGS MAC > mac.
 *
 * ADD creates the macvlan with a temporary name directly in the container
 * netns, renames it to CNI_IFNAME, then IPAM and addresses; every failure
 * after the creation deletes the link and releases IPAM. DEL releases IPAM
 * and deletes the link; it needs neither the master nor the netns. CHECK
 * verifies type, mode, MAC, addresses and routes. STATUS/GC go to IPAM. */
#include <linux/if_link.h>
#include <string.h>

#include "cni/exec.h"
#include "cni/json.h"
#include "cni/linkplugin.h"

struct conf {
	struct lp_master master;
	const char *mode_s;
	uint32_t mode;
	bool has_mac;
	uint8_t mac[6];
	long long bcqueuelen;
};

/* Parse and resolve the master (ADD, CHECK). */
static int load_conf(struct lp_ctx *x, void *arg)
{
	struct conf *k = arg;
	struct cni_call *c = x->call;
	struct cni_error *err = &c->err;
	memset(k, 0, sizeof(*k));
	const char *conf_mac = NULL;
	if (lp_master_parse(c, &k->master) < 0 || cj_str(c->conf, "mode", &k->mode_s, err) < 0 ||
	    cj_str(c->conf, "mac", &conf_mac, err) < 0 ||
	    cj_int_range(c->conf, "bcqueuelen", 0, UINT32_MAX, &k->bcqueuelen, err) < 0)
		return -1;
	if (sublink_macvlan_mode_parse(k->mode_s, &k->mode) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "unknown macvlan mode: \"%s\"", k->mode_s);
	if (lp_master_resolve(x, &k->master, true) < 0)
		return -1;
	return lp_mac(c, conf_mac, k->mac, &k->has_mac);
}

static int create_link(struct lp_ctx *x, void *arg, struct cnl_link *link, struct lp_add_opts *o)
{
	struct conf *k = arg;
	struct sublink_spec spec = {
		.kind = "macvlan", .master_index = k->master.link.ifindex, .mtu = (int)k->master.mtu,
		.has_mac = k->has_mac, .macvlan_mode = k->mode, .bc_queue_len = (uint32_t)k->bcqueuelen,
	};
	memcpy(spec.mac, k->mac, sizeof(spec.mac));
	*o = (struct lp_add_opts){
		.ipam_type = cni_ipam_type(x->call->conf), .dns = LP_DNS_CONF, .notify_sysctls = true,
		.ipv6_ndisc_notify = true, .bring_up_l2 = true, .link_kind = "macvlan",
	};
	return lp_create_sublink(x, &spec, k->master.in_container, link);
}

static int check_link(struct lp_ctx *x, void *arg, const struct cnl_link *link)
{
	struct conf *k = arg;
	if (link->macvlan_mode != k->mode)
		return cni_errorf(&x->call->err, CNI_ERR_CHECK_FAILED,
				  "container macvlan mode %s does not match expected value: %s",
				  sublink_macvlan_mode_name(link->macvlan_mode), sublink_macvlan_mode_name(k->mode));
	return 0;
}

static const struct lp_spec macvlan = {
	.kind = "macvlan", .load = load_conf, .create = create_link, .check = check_link,
};

static int cmd_add(struct cni_call *c)
{
	struct conf k;
	return lp_add(c, &macvlan, &k);
}

static int cmd_check(struct cni_call *c)
{
	struct conf k;
	return lp_check(c, &macvlan, &k);
}

static const char *const args_keys[] = { "MAC", NULL };

static const struct cni_plugin plugin = {
	.name = "macvlan",
	.about = "attaches a container to the master's network with its own MAC address",
	.args_keys = args_keys,
	.add = cmd_add,
	.del = lp_del, /* only the config is parsed: works without master or netns */
	.check = cmd_check,
	.status = lp_forward_ipam,
	.gc = lp_forward_ipam,
};

int main(int argc, char **argv)
{
	return cni_plugin_main(&plugin, argc, argv);
}
