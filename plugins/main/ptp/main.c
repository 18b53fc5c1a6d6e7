/* ptp: a veth pair straight into the container, routed (no bridge).
 *
 * ADD: IPAM ADD; veth created from the host side, the peer directly in the
 * container netns as CNI_IFNAME (one tx/rx queue); inside the netns the
 * IPAM result is applied, then each address's kernel subnet route is
 * replaced by "<gw>/32 dev if scope link src <ip>" and "<subnet> via <gw>
 * src <ip>"; on the host the veth gets <gw>/32 (/128, without DAD) and a
 * route <ip>/32 (/128) through it; forwarding for each family; masquerade.
 * Result [host veth, container veth], IP interface index 1. Any failure
 * after IPAM rolls back (masquerade, veth, IPAM).
 *
 * DEL: masquerade entries (by attachment), the container veth (the host
 * end and its routes go with it), IPAM; idempotent, works without netns.
 * CHECK: IPAM, veth pair, MAC, addresses, routes, masquerade.
 * STATUS: IPAM's. GC: IPAM's and masquerade entries of stale attachments. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "cni/exec.h"
#include "cni/json.h"
#include "cni/masq.h"
#include "cni/netlink.h"
#include "cni/netns.h"
#include "cni/plugin.h"
#include "cni/vethplugin.h"

#define OOM(err) cni_errorf((err), CNI_ERR_INTERNAL, "out of memory")

struct ptp_conf {
	bool ip_masq;
	const char *ip_masq_backend;
	unsigned mtu;
	const char *ipam_type;
};

static int load_conf(const struct cni_call *c, struct ptp_conf *cf, struct cni_error *err)
{
	memset(cf, 0, sizeof(*cf));
	long long mtu = 0;
	if (cj_bool(c->conf, "ipMasq", &cf->ip_masq, err) < 0 ||
	    cj_str(c->conf, "ipMasqBackend", &cf->ip_masq_backend, err) < 0 ||
	    cj_int_range(c->conf, "mtu", 0, 65535, &mtu, err) < 0)
		return -1;
	cf->mtu = (unsigned)mtu;
	if (cf->ip_masq_backend && *cf->ip_masq_backend && strcmp(cf->ip_masq_backend, "iptables") &&
	    strcmp(cf->ip_masq_backend, "nftables"))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "unknown ipmasq backend \"%s\"", cf->ip_masq_backend);
	cf->ipam_type = cni_ipam_type(c->conf);
	if (!cf->ipam_type)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "ptp: \"ipam\" with a \"type\" is required");
	return 0;
}

static struct cni_cidr host_prefix(const struct cni_ip *ip)
{
	struct cni_cidr c = { .ip = *ip, .prefix = cni_ip_bits(ip) };
	return c;
}

struct add_state {
	const struct cni_call *c;
	struct nl_sock *csk;
	struct cni_result *res;
};

/* Inside the container netns: addresses, link up, IPAM routes, then the
 * point-to-point routing through the gateway. */
static int container_setup(void *arg, struct cni_error *err)
{
	struct add_state *st = arg;
	const char *ifn = st->c->ifname;
	struct cnl_link l;
	if (cnl_link_query(st->csk, ifn, 0, &l, err) < 0)
		return -1;
	cnl_link_notify_peers_on(st->csk, &l, false);
	if (cnl_configure_link(st->csk, &l, st->res, err) < 0)
		return -1;
	for (size_t i = 0; i < st->res->n_ips; i++) {
		const struct cni_ipconfig *ipc = &st->res->ips[i];
		struct cnl_route sub = CNL_ROUTE_INIT;
		sub.dst = cni_cidr_network(&ipc->address);
		sub.oif = l.ifindex;
		struct cni_error e = { 0 };
		if (cnl_route_del(st->csk, &sub, &e) < 0 && e.code != CNI_ERR_NOT_FOUND) {
			*err = e;
			return -1;
		}
		struct cnl_route gw = CNL_ROUTE_INIT;
		gw.dst = host_prefix(&ipc->gateway);
		gw.oif = l.ifindex;
		gw.scope = RT_SCOPE_LINK;
		gw.src = ipc->address.ip;
		struct cnl_route via = CNL_ROUTE_INIT;
		via.dst = sub.dst;
		via.gw = ipc->gateway;
		via.oif = l.ifindex;
		via.src = ipc->address.ip;
		e = (struct cni_error){ 0 };
		if (cnl_route_add(st->csk, &gw, CNL_ROUTE_EXCL, &e) < 0 && e.code != CNI_ERR_EXISTS) {
			*err = e;
			return -1;
		}
		if (cnl_route_add(st->csk, &via, CNL_ROUTE_EXCL, err) < 0)
			return -1;
	}
	return 0;
}

static int cmd_add(struct cni_call *c)
{
	struct cni_error *err = &c->err;
	struct ptp_conf cf;
	if (load_conf(c, &cf, err) < 0)
		return -1;
	_cleanup_close_ int nsfd = -1;
	_cleanup_nl_ struct nl_sock *hsk = NULL, *csk = NULL;
	if (vethp_open(c, &nsfd, &hsk, &csk, err) < 0)
		return -1;

	_cleanup_result_ struct cni_result *res = NULL;
	if (cni_delegate(c, cf.ipam_type, CNI_CMD_ADD, &res, err) < 0)
		return -1;
	char host[IF_NAMESIZE] = "";
	bool veth_made = false, masq_added = false;
	_cleanup_nft_ struct cni_nft *nft = NULL;
	struct cni_error ignore = { 0 };
	if (res->n_ips == 0) {
		cni_errorf(err, CNI_ERR_INVALID_CONFIG, "IPAM plugin returned missing IP config");
		goto fail;
	}
	for (size_t i = 0; i < res->n_ips; i++) {
		char b[CNI_CIDR_STRLEN];
		if (!cni_ip_is_set(&res->ips[i].gateway)) {
			cni_errorf(err, CNI_ERR_INVALID_CONFIG, "ptp: IPAM returned no gateway for %s",
				   cni_cidr_fmt(&res->ips[i].address, b));
			goto fail;
		}
		res->ips[i].interface = 1;
	}
	bool v4 = false, v6 = false;
	for (size_t i = 0; i < res->n_ips; i++) {
		v4 |= res->ips[i].address.ip.family == AF_INET;
		v6 |= res->ips[i].address.ip.family == AF_INET6;
	}
	if (v4 && cnl_forwarding_ensure(hsk, AF_INET, err) < 0)
		goto fail;
	if (v6 && cnl_forwarding_ensure(hsk, AF_INET6, err) < 0)
		goto fail;

	if (vethp_create(hsk, csk, nsfd, c, cf.mtu, NULL, 0, host, err) < 0)
		goto fail;
	veth_made = true;
	struct cnl_link hl, cl;
	if (cnl_link_query(hsk, host, 0, &hl, err) < 0)
		goto fail;
	if (hl.in6_accept_ra != 0)
		(void)cni_sysctl_writef("0", &ignore, "net/ipv6/conf/%s/accept_ra", host);

	vethp_result_clear_ifaces(res);
	if (cni_result_add_interface(res, host, NULL, NULL) < 0 || cni_result_add_interface(res, c->ifname, NULL, c->netns) < 0) {
		OOM(err);
		goto fail;
	}
	struct add_state st = { .c = c, .csk = csk, .res = res };
	if (netns_run_fd(nsfd, container_setup, &st, err) < 0)
		goto fail;

	/* host side: the gateway address (shared by every ptp host veth) and a
	 * host route to the container address */
	for (size_t i = 0; i < res->n_ips; i++) {
		const struct cni_ipconfig *ipc = &res->ips[i];
		struct cni_cidr gw = host_prefix(&ipc->gateway);
		struct cni_error e = { 0 };
		unsigned flags = gw.ip.family == AF_INET6 ? IFA_F_NODAD : 0;
		if (cnl_addr_add_flags(hsk, hl.ifindex, &gw, flags, &e) < 0 && e.code != CNI_ERR_EXISTS) {
			*err = e;
			cni_error_wrap(err, "failed to add IP addr to veth");
			goto fail;
		}
		struct cnl_route r = CNL_ROUTE_INIT;
		r.dst = host_prefix(&ipc->address.ip);
		r.oif = hl.ifindex;
		e = (struct cni_error){ 0 };
		if (cnl_route_add(hsk, &r, CNL_ROUTE_EXCL, &e) < 0 && e.code != CNI_ERR_EXISTS) {
			*err = e;
			cni_error_wrap(err, "failed to add route on host");
			goto fail;
		}
	}
	if (cf.ip_masq) {
		masq_added = true;
		if (vethp_masq_add(&nft, c, res->ips, res->n_ips, err) < 0)
			goto fail;
	}
	if (cnl_link_query(hsk, NULL, hl.ifindex, &hl, err) < 0 || cnl_link_query(csk, c->ifname, 0, &cl, err) < 0)
		goto fail;
	if (vethp_fill_iface(res, 0, &hl) < 0 || vethp_fill_iface(res, 1, &cl) < 0) {
		OOM(err);
		goto fail;
	}
	if (vethp_add_result(c, &res, err) < 0)
		goto fail;
	return 0;

fail:
	vethp_add_rollback(c, masq_added ? nft : NULL, hsk, veth_made ? host : NULL, cf.ipam_type, err);
	return -1;
}

static int cmd_del(struct cni_call *c)
{
	struct ptp_conf cf;
	struct cni_error first = { 0 }, e = { 0 };
	if (load_conf(c, &cf, &c->err) < 0)
		return -1;
	_cleanup_nft_ struct cni_nft *nft = NULL;
	if (cf.ip_masq) {
		nft = cni_nft_open(&e);
		if (!nft || masq_del(nft, c->net_name, c->container_id, c->ifname, &e) < 0)
			first = e;
	}
	struct cni_delegate_bg ipam; /* overlaps the veth delete, as in bridge */
	cni_delegate_bg_start(&ipam, c, cf.ipam_type, CNI_CMD_DEL);
	vethp_del_container(c, NULL, &first);
	e = (struct cni_error){ 0 };
	if (cni_delegate_bg_wait(&ipam, &e) < 0 && !first.code)
		first = e;
	if (first.code) {
		c->err = first;
		return -1;
	}
	return 0;
}

static int cmd_check(struct cni_call *c)
{
	struct cni_error *err = &c->err;
	struct ptp_conf cf;
	if (load_conf(c, &cf, err) < 0)
		return -1;
	if (cni_delegate(c, cf.ipam_type, CNI_CMD_CHECK, NULL, err) < 0)
		return -1;
	if (!c->prev)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "Required prevResult missing");
	const struct cni_result *p = c->prev;
	int ci = cni_result_find_interface(p, c->ifname, true);
	if (ci < 0)
		return vethp_check_failed(err, "interface %s not found in prevResult", c->ifname);
	if (strcmp(p->interfaces[ci].sandbox, c->netns))
		return vethp_check_failed(err, "Sandbox in prevResult %s doesn't match configured netns: %s",
				    p->interfaces[ci].sandbox, c->netns);
	_cleanup_nl_ struct nl_sock *hsk = cnl_open(err);
	_cleanup_close_ int nsfd = netns_open(c->netns, err);
	if (!hsk || nsfd < 0)
		return -1;
	_cleanup_nl_ struct nl_sock *csk = cnl_open_netns(nsfd, err);
	if (!csk)
		return -1;
	struct cnl_link cl;
	if (cnl_link_query(csk, c->ifname, 0, &cl, err) < 0) {
		err->code = CNI_ERR_CHECK_FAILED;
		return -1;
	}
	uint8_t m[6];
	if (strcmp(cl.kind, "veth"))
		return vethp_check_failed(err, "container interface %s is not a veth", c->ifname);
	if (p->interfaces[ci].mac && *p->interfaces[ci].mac &&
	    (cnl_mac_parse(p->interfaces[ci].mac, m) < 0 || memcmp(m, cl.mac, 6)))
		return vethp_check_failed(err, "interface %s MAC %s does not match the kernel's", c->ifname, p->interfaces[ci].mac);
	bool host_ok = false;
	for (size_t i = 0; i < p->n_interfaces && !host_ok; i++) {
		const struct cni_interface *it = &p->interfaces[i];
		struct cnl_link hl;
		struct cni_error e = { 0 };
		if (!it->name || (it->sandbox && *it->sandbox))
			continue;
		host_ok = cnl_link_query(hsk, it->name, 0, &hl, &e) == 0 && !strcmp(hl.kind, "veth") &&
			  hl.ifindex == cl.link;
	}
	if (!host_ok)
		return vethp_check_failed(err, "CNI veth created for ptp interface %s was not found", c->ifname);
	if (vethp_check_addrs_routes(csk, cl.ifindex, c->ifname, p, ci, err) < 0)
		return -1;
	if (cf.ip_masq && p->n_ips && vethp_masq_check(c, p->ips, p->n_ips, err) < 0)
		return -1;
	return 0;
}

static int cmd_gc(struct cni_call *c)
{
	return vethp_gc(c, NULL);
}

static const struct cni_plugin plugin = {
	.name = "ptp",
	.about = "connects containers to the host with a routed veth pair",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.status = vethp_status,
	.gc = cmd_gc,
};

int main(int argc, char **argv)
{
	return cni_plugin_main(&plugin, argc, argv);
}
