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
	const char *master;
	char master_buf[IF_NAMESIZE];
	const char *mode_s;
	uint32_t mode;
	long long mtu;
	const char *mac_s;
	bool has_mac;
	uint8_t mac[6];
	bool link_in_container;
	long long bcqueuelen;
	const char *ipam_type;
	struct cnl_link master_info;
};

/* Parse and resolve the master (ADD, CHECK). x must be open. */
static int load_conf(struct lp_ctx *x, struct conf *k)
{
	struct cni_call *c = x->call;
	struct cni_error *err = &c->err;
	memset(k, 0, sizeof(*k));
	const char *conf_mac = NULL;
	if (cj_str(c->conf, "master", &k->master, err) < 0 || cj_str(c->conf, "mode", &k->mode_s, err) < 0 ||
	    cj_int(c->conf, "mtu", &k->mtu, err) < 0 || cj_str(c->conf, "mac", &conf_mac, err) < 0 ||
	    cj_bool(c->conf, "linkInContainer", &k->link_in_container, err) < 0 ||
	    cj_int_range(c->conf, "bcqueuelen", 0, UINT32_MAX, &k->bcqueuelen, err) < 0)
		return -1;
	if (sublink_macvlan_mode_parse(k->mode_s, &k->mode) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "unknown macvlan mode: \"%s\"", k->mode_s);
	k->ipam_type = cni_ipam_type(c->conf);
	struct nl_sock *sk = k->link_in_container ? x->sk_ct : x->sk_host;
	if (!k->master || !*k->master) {
		if (sublink_default_route_ifname(sk, k->master_buf, err) < 0)
			return -1;
		k->master = k->master_buf;
	}
	if (cnl_link_query(sk, k->master, 0, &k->master_info, err) < 0)
		return cni_error_wrap(err, "failed to lookup master \"%s\"", k->master);
	if (k->mtu < 0 || k->mtu > k->master_info.mtu)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid MTU %lld, must be [0, master MTU(%u)]", k->mtu,
				  k->master_info.mtu);
	k->mac_s = lp_mac_choice(c, conf_mac);
	if (k->mac_s) {
		if (cnl_mac_parse(k->mac_s, k->mac) < 0)
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid args %s for MAC addr", k->mac_s);
		k->has_mac = true;
	}
	return 0;
}

static int cmd_add(struct cni_call *c)
{
	struct lp_ctx x;
	int r = lp_open(c, &x);
	struct conf k;
	if (r == 0)
		r = load_conf(&x, &k);
	if (r == 0) {
		struct sublink_spec spec = {
			.kind = "macvlan", .master_index = k.master_info.ifindex,
			.ns_fd = k.link_in_container ? -1 : x.nsfd, .mtu = (int)k.mtu, .has_mac = k.has_mac,
			.macvlan_mode = k.mode, .bc_queue_len = (uint32_t)k.bcqueuelen,
		};
		memcpy(spec.mac, k.mac, sizeof(spec.mac));
		struct cnl_link link;
		r = sublink_create_in(k.link_in_container ? x.sk_ct : x.sk_host, x.sk_ct, &spec, c->ifname, &link,
				      &c->err);
		if (r == 0) {
			struct lp_add_opts o = {
				.ipam_type = k.ipam_type, .dns = LP_DNS_CONF, .notify_sysctls = true,
				.ipv6_ndisc_notify = true, .bring_up_l2 = true, .link_kind = "macvlan",
			};
			r = lp_finish_add(&x, &link, &o);
		}
	}
	lp_close(&x);
	return r;
}

static int cmd_del(struct cni_call *c)
{
	/* only the config is parsed: works without master or netns */
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
	if (r == 0 && strcmp(link.kind, "macvlan"))
		r = cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "container interface %s not of type macvlan", c->ifname);
	if (r == 0 && link.macvlan_mode != k.mode)
		r = cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "container macvlan mode %s does not match expected value: %s",
			       sublink_macvlan_mode_name(link.macvlan_mode), sublink_macvlan_mode_name(k.mode));
	if (r == 0)
		r = lp_check_mac(&x, &link, iface);
	if (r == 0)
		r = lp_check_ips(&x, &link, iface);
	lp_close(&x);
	return r;
}

static const char *const args_keys[] = { "MAC", NULL };

static const struct cni_plugin plugin = {
	.name = "macvlan",
	.about = "attaches a container to the master's network with its own MAC address",
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
