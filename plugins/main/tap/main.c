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
	const char *mac_s, *bridge, *selinux;
	bool has_mac, multi_queue;
	uint8_t mac[6];
	long long mtu, owner, group;
	const char *ipam_type;
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
	k->mac_s = lp_mac_choice(c, conf_mac);
	if (k->mac_s) {
		if (cnl_mac_parse(k->mac_s, k->mac) < 0)
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid args %s for MAC addr", k->mac_s);
		k->has_mac = true;
	}
	k->ipam_type = cni_ipam_type(c->conf);
	return 0;
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

static int cmd_add(struct cni_call *c)
{
	struct conf k;
	if (load_conf(c, &k) < 0)
		return -1;
	struct lp_ctx x;
	int r = lp_open(c, &x);
	struct tap_args ta = { .k = &k };
	struct cnl_link link, br;
	if (r == 0 && k.bridge && *k.bridge && cnl_link_query(x.sk_ct, k.bridge, 0, &br, &c->err) < 0)
		r = cni_error_wrap(&c->err, "failed to find bridge \"%s\" in the container", k.bridge);
	if (r == 0) {
		sublink_temp_name("tap", ta.tmp);
		r = netns_run_fd(x.nsfd, tap_in_ns, &ta, &c->err);
	}
	if (r == 0)
		r = cnl_link_query(x.sk_ct, ta.tmp, 0, &link, &c->err);
	if (r == 0) {
		struct sublink_change chg = SUBLINK_CHANGE_INIT;
		chg.name = c->ifname;
		chg.mac = k.has_mac ? k.mac : NULL;
		chg.mtu = (int)k.mtu;
		if (k.bridge && *k.bridge)
			chg.master_index = br.ifindex;
		r = sublink_change(x.sk_ct, link.ifindex, &chg, &c->err);
		if (r == 0)
			r = cnl_link_query(x.sk_ct, NULL, link.ifindex, &link, &c->err);
		if (r < 0) {
			struct cni_error ignored = { 0 };
			cnl_link_del(x.sk_ct, link.ifindex, &ignored);
			cni_error_wrap(&c->err, "failed to set up tap \"%s\"", c->ifname);
		}
	}
	if (r == 0) {
		struct lp_add_opts o = {
			.ipam_type = k.ipam_type, .dns = LP_DNS_CONF, .notify_sysctls = true, .bring_up_l2 = true,
			.link_kind = "tap",
		};
		r = lp_finish_add(&x, &link, &o);
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
	struct conf k;
	if (load_conf(c, &k) < 0)
		return -1;
	struct lp_ctx x;
	int r = lp_open(c, &x);
	struct cnl_link link;
	int iface = -1;
	if (r == 0)
		r = lp_check_begin(&x, k.ipam_type, &link, &iface);
	if (r == 0 && (strcmp(link.kind, "tun") || link.tun_type != IFF_TAP))
		r = cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "container interface %s is not a tap", c->ifname);
	if (r == 0)
		r = lp_check_mac(&x, &link, iface);
	if (r == 0)
		r = lp_check_ips(&x, &link, iface);
	lp_close(&x);
	return r;
}

static const char *const args_keys[] = { "MAC", NULL };

static const struct cni_plugin plugin = {
	.name = "tap",
	.about = "creates a persistent TAP device in the container",
	.args_keys = args_keys,
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
