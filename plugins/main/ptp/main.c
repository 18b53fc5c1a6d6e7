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

#define OOM(err) cni_errorf((err), CNI_ERR_INTERNAL, "out of memory")

struct ptp_conf {
	bool ip_masq;
	const char *ip_masq_backend;
	unsigned mtu;
	const char *ipam_type;
	bool dns_override;
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
	cf->dns_override = cni_dns_json_present(cj_get(c->conf, "dns"));
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
	struct cni_error ignore = { 0 };
	(void)cni_sysctl_setf("1", &ignore, "net/ipv4/conf/%s/arp_notify", ifn);
	if (cnl_configure_iface(st->csk, ifn, st->res, err) < 0)
		return -1;
	struct cnl_link l;
	if (cnl_link_query(st->csk, ifn, 0, &l, err) < 0)
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

static int create_veth(struct nl_sock *hsk, struct nl_sock *csk, int nsfd, const struct cni_call *c, unsigned mtu,
		       char host[IF_NAMESIZE], struct cni_error *err)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		uint8_t rnd[4];
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			return cni_errorf_errno(err, CNI_ERR_INTERNAL, errno, "getrandom");
		snprintf(host, IF_NAMESIZE, "veth%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
		struct cnl_veth v = { .name = host, .peer_name = c->ifname, .peer_nsfd = nsfd, .mtu = mtu, .up = true };
		struct cni_error e = { 0 };
		if (cnl_veth_create(hsk, &v, &e) == 0)
			return 0;
		if (e.code != CNI_ERR_EXISTS) {
			*err = e;
			return -1;
		}
		struct cnl_link l;
		if (cnl_link_query(csk, c->ifname, 0, &l, &e) == 0)
			return cni_errorf(err, CNI_ERR_EXISTS, "container veth name \"%s\" already exists in %s", c->ifname,
					  c->netns);
	}
	return cni_errorf(err, CNI_ERR_EXISTS, "failed to find a free host veth name after 10 attempts");
}

static int fill_iface(struct cni_result *r, int idx, const struct cnl_link *l)
{
	char b[18];
	free(r->interfaces[idx].mac);
	r->interfaces[idx].mac = l->has_mac ? strdup(cnl_mac_fmt(l->mac, b)) : NULL;
	r->interfaces[idx].mtu = (int)l->mtu;
	return l->has_mac && !r->interfaces[idx].mac ? -1 : 0;
}

static int cmd_add(struct cni_call *c)
{
	struct cni_error *err = &c->err;
	struct ptp_conf cf;
	if (load_conf(c, &cf, err) < 0)
		return -1;
	_cleanup_close_ int nsfd = netns_open(c->netns, err);
	if (nsfd < 0)
		return -1;
	_cleanup_nl_ struct nl_sock *hsk = cnl_open(err);
	if (!hsk)
		return -1;
	_cleanup_nl_ struct nl_sock *csk = cnl_open_netns(nsfd, err);
	if (!csk)
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
	if (v4 && cni_sysctl_set("net/ipv4/ip_forward", "1", err) < 0)
		goto fail;
	if (v6 && cni_sysctl_set("net/ipv6/conf/all/forwarding", "1", err) < 0)
		goto fail;

	if (create_veth(hsk, csk, nsfd, c, cf.mtu, host, err) < 0)
		goto fail;
	veth_made = true;
	struct cnl_link hl, cl;
	if (cnl_link_query(hsk, host, 0, &hl, err) < 0)
		goto fail;
	(void)cni_sysctl_setf("0", &ignore, "net/ipv6/conf/%s/accept_ra", host);

	for (size_t i = 0; i < res->n_interfaces; i++) {
		free(res->interfaces[i].name);
		free(res->interfaces[i].mac);
		free(res->interfaces[i].sandbox);
		free(res->interfaces[i].socket_path);
		free(res->interfaces[i].pci_id);
	}
	res->n_interfaces = 0;
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
		struct cni_cidr ips[32];
		size_t n = 0;
		for (size_t i = 0; i < res->n_ips && n < ARRAY_SIZE(ips); i++)
			ips[n++] = res->ips[i].address;
		nft = cni_nft_open(err);
		if (!nft)
			goto fail;
		masq_added = true;
		if (masq_add(nft, c->net_name, c->container_id, c->ifname, ips, n, err) < 0)
			goto fail;
	}
	if (cnl_link_query(hsk, NULL, hl.ifindex, &hl, err) < 0 || cnl_link_query(csk, c->ifname, 0, &cl, err) < 0)
		goto fail;
	if (fill_iface(res, 0, &hl) < 0 || fill_iface(res, 1, &cl) < 0) {
		OOM(err);
		goto fail;
	}
	if (cf.dns_override) {
		cni_dns_free(&res->dns);
		if (cni_dns_from_json(cj_get(c->conf, "dns"), &res->dns, err) < 0)
			goto fail;
	}
	c->result = TAKE_PTR(res);
	return 0;

fail:;
	struct cni_error saved = *err, e = { 0 };
	if (masq_added && nft)
		(void)masq_del(nft, c->net_name, c->container_id, c->ifname, &e);
	if (veth_made)
		(void)cnl_link_del_name(hsk, host, &e);
	(void)cni_delegate(c, cf.ipam_type, CNI_CMD_DEL, NULL, &e);
	*err = saved;
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
	if (*c->netns && !c->netns_gone) {
		_cleanup_close_ int nsfd = open(c->netns, O_RDONLY | O_CLOEXEC);
		_cleanup_nl_ struct nl_sock *csk = nsfd >= 0 ? cnl_open_netns(nsfd, &e) : NULL;
		struct cnl_link l;
		e = (struct cni_error){ 0 };
		if (csk && cnl_link_query(csk, c->ifname, 0, &l, &e) == 0) {
			if (cnl_link_del(csk, l.ifindex, &e) < 0 && e.code != CNI_ERR_NOT_FOUND && !first.code)
				first = e;
		} else if (csk && e.code != CNI_ERR_NOT_FOUND && !first.code) {
			first = e;
		}
	} else if (c->prev) {
		/* netns gone: the host end named in prevResult, if still a veth */
		_cleanup_nl_ struct nl_sock *hsk = cnl_open(&e);
		for (size_t i = 0; hsk && i < c->prev->n_interfaces; i++) {
			const struct cni_interface *it = &c->prev->interfaces[i];
			struct cnl_link l;
			if (it->name && (!it->sandbox || !*it->sandbox) && !strncmp(it->name, "veth", 4) &&
			    cnl_link_query(hsk, it->name, 0, &l, &e) == 0 && !strcmp(l.kind, "veth"))
				(void)cnl_link_del(hsk, l.ifindex, &e);
		}
	}
	e = (struct cni_error){ 0 };
	if (cni_delegate(c, cf.ipam_type, CNI_CMD_DEL, NULL, &e) < 0 && !first.code)
		first = e;
	if (first.code) {
		c->err = first;
		return -1;
	}
	return 0;
}

static int check_failed(struct cni_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int check_failed(struct cni_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cni_verrorf(err, CNI_ERR_CHECK_FAILED, fmt, ap);
	va_end(ap);
	return -1;
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
		return check_failed(err, "interface %s not found in prevResult", c->ifname);
	if (strcmp(p->interfaces[ci].sandbox, c->netns))
		return check_failed(err, "Sandbox in prevResult %s doesn't match configured netns: %s",
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
		return check_failed(err, "container interface %s is not a veth", c->ifname);
	if (p->interfaces[ci].mac && *p->interfaces[ci].mac &&
	    (cnl_mac_parse(p->interfaces[ci].mac, m) < 0 || memcmp(m, cl.mac, 6)))
		return check_failed(err, "interface %s MAC %s does not match the kernel's", c->ifname, p->interfaces[ci].mac);
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
		return check_failed(err, "CNI veth created for ptp interface %s was not found", c->ifname);
	_cleanup_free_ struct cni_cidr *addrs = NULL;
	size_t na = 0;
	if (cnl_addr_list(csk, cl.ifindex, AF_UNSPEC, &addrs, &na, err) < 0)
		return -1;
	for (size_t i = 0; i < p->n_ips; i++) {
		bool found = false;
		for (size_t k = 0; k < na && !found; k++)
			found = cni_ip_eq(&addrs[k].ip, &p->ips[i].address.ip) && addrs[k].prefix == p->ips[i].address.prefix;
		char b[CNI_CIDR_STRLEN];
		if (!found)
			return check_failed(err, "Failed to match addr %s on interface %s",
					    cni_cidr_fmt(&p->ips[i].address, b), c->ifname);
	}
	_cleanup_free_ struct cnl_route *routes = NULL;
	size_t nr = 0;
	if (p->n_routes && cnl_route_list(csk, cl.ifindex, AF_UNSPEC, 0, &routes, &nr, err) < 0)
		return -1;
	for (size_t i = 0; i < p->n_routes; i++) {
		struct cni_cidr wn = cni_cidr_network(&p->routes[i].dst);
		bool found = false;
		for (size_t k = 0; k < nr && !found; k++) {
			struct cni_cidr hn = cni_cidr_network(&routes[k].dst);
			found = cni_ip_eq(&hn.ip, &wn.ip) && hn.prefix == wn.prefix &&
				(!cni_ip_is_set(&p->routes[i].gw) || cni_ip_eq(&routes[k].gw, &p->routes[i].gw));
		}
		char d[CNI_CIDR_STRLEN];
		if (!found)
			return check_failed(err, "Failed to find route %s on interface %s", cni_cidr_fmt(&wn, d), c->ifname);
	}
	if (cf.ip_masq && p->n_ips) {
		struct cni_cidr ips[32];
		size_t n = 0;
		for (size_t i = 0; i < p->n_ips && n < ARRAY_SIZE(ips); i++)
			ips[n++] = p->ips[i].address;
		_cleanup_nft_ struct cni_nft *nft = cni_nft_open(err);
		if (!nft || masq_check(nft, c->net_name, c->container_id, c->ifname, ips, n, err) < 0)
			return -1;
	}
	return 0;
}

static int cmd_status(struct cni_call *c)
{
	const char *t = cni_ipam_type(c->conf);
	return t ? cni_delegate(c, t, CNI_CMD_STATUS, NULL, &c->err) : 0;
}

static int cmd_gc(struct cni_call *c)
{
	struct cni_error first = { 0 }, e = { 0 };
	bool masq = false;
	(void)cj_bool(c->conf, "ipMasq", &masq, &e);
	if (masq) {
		struct cni_attachment *valid = NULL;
		size_t n = 0;
		bool present = false;
		e = (struct cni_error){ 0 };
		if (cni_gc_valid_attachments(c->conf, &valid, &n, &present, &e) < 0) {
			first = e;
		} else if (present) {
			_cleanup_nft_ struct cni_nft *nft = cni_nft_open(&e);
			if (!nft || masq_gc(nft, c->net_name, valid, n, &e) < 0)
				first = e;
		}
		cni_attachments_free(valid, n);
	}
	const char *t = cni_ipam_type(c->conf);
	e = (struct cni_error){ 0 };
	if (t && cni_delegate(c, t, CNI_CMD_GC, NULL, &e) < 0 && !first.code)
		first = e;
	if (first.code) {
		c->err = first;
		return -1;
	}
	return 0;
}

static const struct cni_plugin plugin = {
	.name = "ptp",
	.about = "connects containers to the host with a routed veth pair",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.status = cmd_status,
	.gc = cmd_gc,
};

int main(int argc, char **argv)
{
	return cni_plugin_main(&plugin, argc, argv);
}
