/* Shared parts of the veth plugins (bridge, ptp): include/cni/vethplugin.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cni/exec.h"
#include "cni/json.h"
#include "cni/netns.h"
#include "cni/vethplugin.h"

int vethp_open(const struct cni_call *c, int *nsfd, struct nl_sock **hsk, struct nl_sock **csk, struct cni_error *err)
{
	if ((*nsfd = netns_open(c->netns, err)) < 0 || !(*hsk = cnl_open(err)) || !(*csk = cnl_open_netns(*nsfd, err)))
		return -1;
	return 0;
}

int vethp_create(struct nl_sock *hsk, struct nl_sock *csk, int nsfd, const struct cni_call *c, unsigned mtu,
		 const uint8_t *peer_mac, int master, char host[IF_NAMESIZE], struct cni_error *err)
{
	return vethp_create_ex(hsk, csk, nsfd, c, mtu, peer_mac, master, true, host, NULL, err);
}

int vethp_create_ex(struct nl_sock *hsk, struct nl_sock *csk, int nsfd, const struct cni_call *c, unsigned mtu,
		    const uint8_t *peer_mac, int master, bool host_up, char host[IF_NAMESIZE], struct cnl_link *host_link,
		    struct cni_error *err)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		uint8_t rnd[4];
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			return cni_errorf_errno(err, CNI_ERR_INTERNAL, errno, "getrandom");
		snprintf(host, IF_NAMESIZE, "veth%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
		struct cnl_veth v = { .name = host, .peer_name = c->ifname, .peer_nsfd = nsfd, .mtu = mtu,
				      .peer_mac = peer_mac, .master = master, .up = host_up,
				      .out = host_link };
		struct cni_error e = { 0 };
		if (cnl_veth_create(hsk, &v, &e) == 0)
			return 0;
		if (e.code != CNI_ERR_EXISTS) {
			*err = e;
			return -1;
		}
		struct cnl_link l;
		struct cni_error e2 = { 0 };
		if (cnl_link_query(csk, c->ifname, 0, &l, &e2) == 0)
			return cni_errorf(err, CNI_ERR_EXISTS, "container veth name \"%s\" already exists in %s", c->ifname,
					  c->netns);
	}
	return cni_errorf(err, CNI_ERR_EXISTS, "failed to find a free host veth name after 10 attempts");
}

void vethp_result_clear_ifaces(struct cni_result *r)
{
	for (size_t i = 0; i < r->n_interfaces; i++) {
		free(r->interfaces[i].name);
		free(r->interfaces[i].mac);
		free(r->interfaces[i].sandbox);
		free(r->interfaces[i].socket_path);
		free(r->interfaces[i].pci_id);
	}
	r->n_interfaces = 0;
}

int vethp_fill_iface(struct cni_result *r, int idx, const struct cnl_link *l)
{
	char b[18];
	struct cni_interface *it = &r->interfaces[idx];
	free(it->mac);
	it->mac = l->has_mac ? strdup(cnl_mac_fmt(l->mac, b)) : NULL;
	it->mtu = (int)l->mtu;
	return l->has_mac && !it->mac ? -1 : 0;
}

int vethp_add_result(struct cni_call *c, struct cni_result **res, struct cni_error *err)
{
	json_t *dns = cj_get(c->conf, "dns");
	if (cni_dns_json_present(dns)) {
		cni_dns_free(&(*res)->dns);
		if (cni_dns_from_json(dns, &(*res)->dns, err) < 0)
			return -1;
	}
	c->result = TAKE_PTR(*res);
	return 0;
}

void vethp_add_rollback(struct cni_call *c, struct cni_nft *nft, struct nl_sock *hsk, const char *host,
			const char *ipam_type, struct cni_error *err)
{
	struct cni_error saved = *err, e = { 0 };
	if (nft)
		(void)masq_del(nft, c->net_name, c->container_id, c->ifname, &e);
	if (host && *host)
		(void)cnl_link_del_name(hsk, host, &e);
	if (ipam_type)
		(void)cni_delegate(c, ipam_type, CNI_CMD_DEL, NULL, &e);
	*err = saved;
}

static size_t addresses(const struct cni_ipconfig *ips, size_t n, struct cni_cidr out[32])
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < 32; i++)
		out[k++] = ips[i].address;
	return k;
}

int vethp_masq_add(struct cni_nft **nft, const struct cni_call *c, const struct cni_ipconfig *ips, size_t n,
		   struct cni_error *err)
{
	struct cni_cidr a[32];
	size_t k = addresses(ips, n, a);
	if (!*nft && !(*nft = cni_nft_open(err)))
		return -1;
	return masq_add(*nft, c->net_name, c->container_id, c->ifname, a, k, err);
}

int vethp_masq_check(const struct cni_call *c, const struct cni_ipconfig *ips, size_t n, struct cni_error *err)
{
	struct cni_cidr a[32];
	size_t k = addresses(ips, n, a);
	_cleanup_nft_ struct cni_nft *nft = cni_nft_open(err);
	if (!nft || masq_check(nft, c->net_name, c->container_id, c->ifname, a, k, err) < 0)
		return -1;
	return 0;
}

/* Host ends named in prevResult that are still veths (on master). */
static void del_host_ends_from_prev(const struct cni_call *c, const char *master_name, struct nl_sock *hsk)
{
	struct cnl_link m = { .ifindex = 0 }, l;
	struct cni_error e = { 0 };
	if (master_name && cnl_link_query(hsk, master_name, 0, &m, &e) < 0)
		return;
	for (size_t i = 0; i < c->prev->n_interfaces; i++) {
		const struct cni_interface *it = &c->prev->interfaces[i];
		if (!it->name || (it->sandbox && *it->sandbox) || strncmp(it->name, "veth", 4))
			continue;
		if (cnl_link_query(hsk, it->name, 0, &l, &e) == 0 && !strcmp(l.kind, "veth") &&
		    (!master_name || l.master == m.ifindex))
			(void)cnl_link_del(hsk, l.ifindex, &e);
	}
}

void vethp_del_container(const struct cni_call *c, const char *master_name, struct cni_error *first)
{
	struct cni_error e = { 0 };
	bool netns_there = *c->netns && !c->netns_gone;
	if (netns_there) {
		_cleanup_close_ int nsfd = open(c->netns, O_RDONLY | O_CLOEXEC);
		if (nsfd >= 0) {
			_cleanup_nl_ struct nl_sock *csk = cnl_open_netns(nsfd, &e);
			if (!csk && !first->code)
				*first = e;
			struct cnl_link l;
			if (csk && cnl_link_query(csk, c->ifname, 0, &l, &e) == 0) {
				e = (struct cni_error){ 0 };
				if (cnl_link_del(csk, l.ifindex, &e) < 0 && e.code != CNI_ERR_NOT_FOUND && !first->code)
					*first = e;
			} else if (csk && e.code != CNI_ERR_NOT_FOUND && !first->code) {
				*first = e;
			}
		} else {
			netns_there = false;
		}
	}
	if (!netns_there && c->prev) {
		/* The netns is gone (or was never given): its veth end went with
		 * it, but the host end survives when someone still holds the
		 * namespace. prevResult names it. */
		_cleanup_nl_ struct nl_sock *hsk = cnl_open(&e);
		if (hsk)
			del_host_ends_from_prev(c, master_name, hsk);
	}
}

int vethp_check_failed(struct cni_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cni_verrorf(err, CNI_ERR_CHECK_FAILED, fmt, ap);
	va_end(ap);
	return -1;
}

int vethp_check_addrs_routes(struct nl_sock *csk, int ifindex, const char *ifname, const struct cni_result *p, int ci,
			     struct cni_error *err)
{
	_cleanup_free_ struct cni_cidr *addrs = NULL;
	size_t na = 0;
	if (cnl_addr_list(csk, ifindex, AF_UNSPEC, &addrs, &na, err) < 0)
		return -1;
	for (size_t i = 0; i < p->n_ips; i++) {
		const struct cni_ipconfig *ipc = &p->ips[i];
		if (ipc->interface >= 0 && ipc->interface != ci)
			continue;
		bool found = false;
		for (size_t k = 0; k < na && !found; k++)
			found = cni_ip_eq(&addrs[k].ip, &ipc->address.ip) && addrs[k].prefix == ipc->address.prefix;
		char b[CNI_CIDR_STRLEN];
		if (!found)
			return vethp_check_failed(err, "Failed to match addr %s on interface %s",
						  cni_cidr_fmt(&ipc->address, b), ifname);
	}
	_cleanup_free_ struct cnl_route *routes = NULL;
	size_t nr = 0;
	if (p->n_routes && cnl_route_list(csk, ifindex, AF_UNSPEC, 0, &routes, &nr, err) < 0)
		return -1;
	for (size_t i = 0; i < p->n_routes; i++) {
		const struct cni_route *want = &p->routes[i];
		struct cni_cidr wn = cni_cidr_network(&want->dst);
		bool found = false;
		for (size_t k = 0; k < nr && !found; k++) {
			struct cni_cidr hn = cni_cidr_network(&routes[k].dst);
			found = cni_ip_eq(&hn.ip, &wn.ip) && hn.prefix == wn.prefix &&
				(!cni_ip_is_set(&want->gw) || cni_ip_eq(&routes[k].gw, &want->gw));
		}
		char d[CNI_CIDR_STRLEN], g[CNI_IP_STRLEN];
		if (!found)
			return vethp_check_failed(err, "Failed to find route %s via %s on interface %s",
						  cni_cidr_fmt(&wn, d),
						  cni_ip_is_set(&want->gw) ? cni_ip_fmt(&want->gw, g) : "(none)", ifname);
	}
	return 0;
}

int vethp_status(struct cni_call *c)
{
	const char *t = cni_ipam_type(c->conf);
	return t ? cni_delegate(c, t, CNI_CMD_STATUS, NULL, &c->err) : 0;
}

int vethp_gc(struct cni_call *c, vethp_gc_fn extra)
{
	struct cni_error first = { 0 }, e = { 0 };
	bool masq = false;
	(void)cj_bool(c->conf, "ipMasq", &masq, &e);
	struct cni_attachment *valid = NULL;
	size_t n = 0;
	bool present = false;
	e = (struct cni_error){ 0 };
	if (!masq && !extra) {
		/* nothing of ours to collect */
	} else if (cni_gc_valid_attachments(c->conf, &valid, &n, &present, &e) < 0) {
		first = e;
	} else {
		if (masq && present) {
			_cleanup_nft_ struct cni_nft *nft = cni_nft_open(&e);
			if (!nft || masq_gc(nft, c->net_name, valid, n, &e) < 0)
				first = e;
		}
		if (extra)
			extra(c, valid, n, present, &first);
	}
	cni_attachments_free(valid, n);
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
