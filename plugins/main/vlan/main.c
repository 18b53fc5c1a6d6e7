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
	const char *master;
	long long vlan_id, mtu;
	bool link_in_container;
	const char *ipam_type;
	struct cnl_link master_info;
};

static int parse_conf(struct cni_call *c, struct conf *k)
{
	struct cni_error *err = &c->err;
	memset(k, 0, sizeof(*k));
	k->vlan_id = -1;
	if (cj_str(c->conf, "master", &k->master, err) < 0 || cj_int(c->conf, "vlanId", &k->vlan_id, err) < 0 ||
	    cj_int(c->conf, "mtu", &k->mtu, err) < 0 ||
	    cj_bool(c->conf, "linkInContainer", &k->link_in_container, err) < 0)
		return -1;
	if (!k->master || !*k->master)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "\"master\" field is required. It specifies the host interface name to create the VLAN for");
	if (k->vlan_id < 0 || k->vlan_id > 4094)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid VLAN ID %lld (must be between 0 and 4094 inclusive)",
				  k->vlan_id);
	k->ipam_type = cni_ipam_type(c->conf);
	return 0;
}

static int load_conf(struct lp_ctx *x, struct conf *k)
{
	struct cni_call *c = x->call;
	if (parse_conf(c, k) < 0)
		return -1;
	if (!k->ipam_type)
		return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG, "vlan interface requires an IPAM configuration (ipam.type)");
	struct nl_sock *sk = k->link_in_container ? x->sk_ct : x->sk_host;
	if (cnl_link_query(sk, k->master, 0, &k->master_info, &c->err) < 0)
		return cni_error_wrap(&c->err, "failed to lookup master \"%s\"", k->master);
	if (k->mtu < 0 || k->mtu > k->master_info.mtu)
		return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG, "invalid MTU %lld, must be [0, master MTU(%u)]", k->mtu,
				  k->master_info.mtu);
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
			.kind = "vlan", .master_index = k.master_info.ifindex,
			.ns_fd = k.link_in_container ? -1 : x.nsfd, .mtu = (int)k.mtu, .vlan_id = (int)k.vlan_id,
		};
		struct cnl_link link;
		r = sublink_create_in(k.link_in_container ? x.sk_ct : x.sk_host, x.sk_ct, &spec, c->ifname, &link,
				      &c->err);
		if (r == 0) {
			struct lp_add_opts o = { .ipam_type = k.ipam_type, .dns = LP_DNS_CONF, .link_kind = "vlan" };
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
	if (r == 0 && strcmp(link.kind, "vlan"))
		r = cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "container interface %s not of type vlan", c->ifname);
	if (r == 0 && link.vlan_id != k.vlan_id)
		r = cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "container vlan id %d does not match expected value: %lld",
			       link.vlan_id, k.vlan_id);
	if (r == 0)
		r = lp_check_mac(&x, &link, iface);
	if (r == 0)
		r = lp_check_ips(&x, &link, iface);
	lp_close(&x);
	return r;
}

static const struct cni_plugin plugin = {
	.name = "vlan",
	.about = "attaches a container to an 802.1q VLAN of the master",
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
