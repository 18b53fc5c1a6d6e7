/* tap: a persistent TAP device in the container (for a VM or a userspace
 * network stack running there).
 *
 * Keys: mac, mtu, multiQueue, owner, group (uid/gid allowed to open it),
 * bridge (a bridge inside the container to enslave the tap to), ipam
 * (optional), dns (the result's dns is this one). MAC precedence:
 * runtimeConfig.mac > CNI_ARGS MAC > mac. `selinuxContext` is refused: the
 * reference sets it by running `ip tuntap` under that context, and this
 * suite runs no tools.
 *
 * Created with TUNSETIFF on /dev/net/tun inside the container netns under a
 * temporary name (TUNSETIFF on an existing name would attach to that device
 * instead of failing), then renamed and configured over netlink. */
#include <linux/if_tun.h>
#include <string.h>

#include "cni/exec.h"
#include "cni/json.h"
#include "cni/linkplugin.h"
#include "cni/netns.h"

struct conf {
	const char *bridge, *selinux;
	bool has_mac, multi_queue;
	uint8_t mac[6];
	long long mtu, owner, group;
};

static int load_conf(struct cni_call *c, struct conf *k)
{
	struct cni_error *err = &c->err;
	memset(k, 0, sizeof(*k));
	k->owner = k->group = -1;
	const char *conf_mac = NULL;
	if (cj_str(c->conf, "mac", &conf_mac, err) < 0 || cj_int_range(c->conf, "mtu", 0, 65535, &k->mtu, err) < 0 ||
	    cj_bool(c->conf, "multiQueue", &k->multi_queue, err) < 0 ||
	    cj_int_range(c->conf, "owner", 0, UINT32_MAX - 1, &k->owner, err) < 0 ||
	    cj_int_range(c->conf, "group", 0, UINT32_MAX - 1, &k->group, err) < 0 ||
	    cj_str(c->conf, "bridge", &k->bridge, err) < 0 || cj_str(c->conf, "selinuxContext", &k->selinux, err) < 0)
		return -1;
	if (k->selinux && *k->selinux)
		return cni_errorf(err, CNI_ERR_UNSUPPORTED_FIELD,
				  "selinuxContext \"%s\" is not supported (the tap is created without running tools)",
				  k->selinux);
	return lp_mac(c, conf_mac, k->mac, &k->has_mac);
}

struct tap_args {
	const struct conf *k;
	char tmp[IF_NAMESIZE];
};

static int tap_in_ns(void *arg, struct cni_error *err)
{
	struct tap_args *a = arg;
	return sublink_tap_create(a->tmp, a->k->multi_queue, a->k->owner, a->k->group, err);
}

static int create_link(struct lp_ctx *x, void *arg, struct cnl_link *link, struct lp_add_opts *o)
{
	struct conf *k = arg;
	struct cni_call *c = x->call;
	struct tap_args ta = { .k = k };
	struct cnl_link br;
	if (k->bridge && *k->bridge && cnl_link_query(x->sk_ct, k->bridge, 0, &br, &c->err) < 0)
		return cni_error_wrap(&c->err, "failed to find bridge \"%s\" in the container", k->bridge);
	sublink_temp_name("tap", ta.tmp);
	if (netns_run_fd(x->nsfd, tap_in_ns, &ta, &c->err) < 0 || cnl_link_query(x->sk_ct, ta.tmp, 0, link, &c->err) < 0)
		return -1;
	struct sublink_change chg = SUBLINK_CHANGE_INIT;
	chg.name = c->ifname;
	chg.mac = k->has_mac ? k->mac : NULL;
	chg.mtu = (int)k->mtu;
	if (k->bridge && *k->bridge)
		chg.master_index = br.ifindex;
	int r = sublink_change(x->sk_ct, link->ifindex, &chg, &c->err);
	if (r == 0)
		r = cnl_link_query(x->sk_ct, NULL, link->ifindex, link, &c->err);
	if (r < 0) {
		struct cni_error ignored = { 0 };
		cnl_link_del(x->sk_ct, link->ifindex, &ignored);
		return cni_error_wrap(&c->err, "failed to set up tap \"%s\"", c->ifname);
	}
	*o = (struct lp_add_opts){
		.ipam_type = cni_ipam_type(c->conf), .dns = LP_DNS_CONF, .notify_sysctls = true, .bring_up_l2 = true,
		.link_kind = "tap",
	};
	return 0;
}

static int check_link(struct lp_ctx *x, void *arg, const struct cnl_link *link)
{
	(void)arg;
	if (strcmp(link->kind, "tun") || link->tun_type != IFF_TAP)
		return cni_errorf(&x->call->err, CNI_ERR_CHECK_FAILED, "container interface %s is not a tap", x->call->ifname);
	return 0;
}

/* the config is loaded before the netns is opened */
static const struct lp_spec tap = { .create = create_link, .check = check_link };

static int cmd_add(struct cni_call *c)
{
	struct conf k;
	if (load_conf(c, &k) < 0)
		return -1;
	return lp_add(c, &tap, &k);
}

static int cmd_check(struct cni_call *c)
{
	struct conf k;
	if (load_conf(c, &k) < 0)
		return -1;
	return lp_check(c, &tap, &k);
}

static const char *const args_keys[] = { "MAC", NULL };

static const struct cni_plugin plugin = {
	.name = "tap",
	.about = "creates a persistent TAP device in the container",
	.args_keys = args_keys,
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
