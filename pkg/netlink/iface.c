/* Applying an IPAM result to an interface (the reference's ConfigureIface). */
#include <errno.h>
#include <string.h>

#include "cni/netlink.h"

#define DAD_TIMEOUT_MS 5000

int cnl_configure_iface(struct nl_sock *sk, const char *ifname, const struct cni_result *res, struct cni_error *err)
{
	if (res->n_interfaces == 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "no interfaces to configure");
	struct cnl_link l;
	if (cnl_link_query(sk, ifname, 0, &l, err) < 0)
		return cni_error_wrap(err, "failed to lookup \"%s\"", ifname);
	return cnl_configure_link(sk, &l, res, err);
}

int cnl_configure_link(struct nl_sock *sk, const struct cnl_link *link, const struct cni_result *res,
		       struct cni_error *err)
{
	if (res->n_interfaces == 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "no interfaces to configure");
	const struct cnl_link l = *link;
	const char *ifname = l.name;
	const struct cni_ip *gw4 = NULL, *gw6 = NULL;
	bool ipv6_enabled = false;
	for (size_t i = 0; i < res->n_ips; i++) {
		const struct cni_ipconfig *ipc = &res->ips[i];
		char b[CNI_CIDR_STRLEN];
		if (ipc->interface < 0)
			continue; /* not for an interface we know: as the reference */
		if ((size_t)ipc->interface >= res->n_interfaces ||
		    !res->interfaces[ipc->interface].name || strcmp(res->interfaces[ipc->interface].name, ifname))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
					  "failed to add IP addr %s to \"%s\": invalid interface index",
					  cni_cidr_fmt(&ipc->address, b), ifname);
		if (ipc->address.ip.family == AF_INET6 && !ipv6_enabled) {
			/* settings come with the links (no /proc/sys lookup when
			 * they already have the value we want) */
			struct cnl_link lo;
			struct cni_error le = { 0 };
			int dis[2] = { cnl_link_query(sk, "lo", 0, &lo, &le) == 0 ? lo.in6_disable : -1, l.in6_disable };
			const char *names[2] = { "lo", ifname };
			for (int k = 0; k < 2; k++) {
				struct cni_error e = { 0 };
				if (dis[k] == 0)
					continue;
				if (cni_sysctl_setf("0", &e, "net/ipv6/conf/%s/disable_ipv6", names[k]) < 0) {
					if (e.code == CNI_ERR_NOT_FOUND)
						continue; /* IPv6 absent: the address add will say so */
					*err = e;
					return cni_error_wrap(err, "failed to enable IPv6 for interface \"%s\"", names[k]);
				}
			}
			/* keep the addresses when the link goes down (e.g. an MTU or MAC change by a later plugin) */
			struct cni_error e = { 0 };
			if (l.in6_keep_addr_on_down != 1)
				(void)cni_sysctl_writef("1", &e, "net/ipv6/conf/%s/keep_addr_on_down", ifname);
			ipv6_enabled = true;
		}
		if (cnl_addr_add(sk, l.ifindex, &ipc->address, err) < 0)
			return cni_error_wrap(err, "failed to add IP addr %s to \"%s\"", cni_cidr_fmt(&ipc->address, b),
					      ifname);
		if (ipc->gateway.family == AF_INET && !gw4)
			gw4 = &ipc->gateway;
		else if (ipc->gateway.family == AF_INET6 && !gw6)
			gw6 = &ipc->gateway;
	}
	if (cnl_link_set_up(sk, l.ifindex, true, err) < 0)
		return cni_error_wrap(err, "failed to set \"%s\" UP", ifname);
	/* With an IPv6 gateway the addresses must have left DAD's tentative
	 * state before routes through it are usable. accept_dad=0 (bridge's
	 * default) makes this return at once. */
	if (gw6 && cnl_wait_ipv6_settled(sk, l.ifindex, DAD_TIMEOUT_MS, err) < 0)
		return -1;
	for (size_t i = 0; i < res->n_routes; i++) {
		const struct cni_route *rr = &res->routes[i];
		struct cnl_route r = CNL_ROUTE_INIT;
		r.dst = rr->dst;
		r.oif = l.ifindex;
		r.gw = rr->gw;
		if (!cni_ip_is_set(&r.gw)) {
			const struct cni_ip *g = rr->dst.ip.family == AF_INET ? gw4 : gw6;
			if (g)
				r.gw = *g;
		}
		if (rr->priority_set)
			r.priority = (unsigned)rr->priority;
		if (rr->table_set)
			r.table = (unsigned)rr->table;
		if (rr->scope_set)
			r.scope = rr->scope;
		if (rr->mtu_set)
			r.mtu = (unsigned)rr->mtu;
		if (rr->advmss_set)
			r.advmss = (unsigned)rr->advmss;
		if (cnl_route_add(sk, &r, CNL_ROUTE_APPEND, err) < 0)
			return cni_error_wrap(err, "failed to add route to \"%s\"", ifname);
	}
	return 0;
}

/* ---- CHECK of an applied result (ip.ValidateExpectedInterfaceIPs / ValidateExpectedRoute) ---- */

static bool ip_for_iface(const struct cni_result *res, size_t i, const char *ifname)
{
	int idx = res->ips[i].interface;
	return idx < 0 || ((size_t)idx < res->n_interfaces && res->interfaces[idx].name &&
			   !strcmp(res->interfaces[idx].name, ifname));
}

int cnl_check_addresses(struct nl_sock *sk, int ifindex, const char *ifname, const struct cni_result *res,
			int iface, struct cni_error *err)
{
	_cleanup_free_ struct cni_cidr *have = NULL;
	size_t n = 0;
	if (cnl_addr_list(sk, ifindex, AF_UNSPEC, &have, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < res->n_ips; i++) {
		const struct cni_cidr *want = &res->ips[i].address;
		if ((res->ips[i].interface >= 0 && res->ips[i].interface != iface) || !ip_for_iface(res, i, ifname))
			continue;
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = cni_ip_eq(&have[k].ip, &want->ip) && have[k].prefix == want->prefix;
		char b[CNI_CIDR_STRLEN];
		if (!found)
			return cni_errorf(err, CNI_ERR_CHECK_FAILED, "interface \"%s\" does not have the expected address %s",
					  ifname, cni_cidr_fmt(want, b));
	}
	return 0;
}

int cnl_check_routes(struct nl_sock *sk, const struct cni_result *res, struct cni_error *err)
{
	if (res->n_routes == 0)
		return 0;
	_cleanup_free_ struct cnl_route *have = NULL;
	size_t n = 0;
	if (cnl_route_list(sk, 0, AF_UNSPEC, 0, &have, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < res->n_routes; i++) {
		const struct cni_route *want = &res->routes[i];
		struct cni_cidr wnet = cni_cidr_network(&want->dst);
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = have[k].dst.prefix == wnet.prefix && cni_ip_eq(&have[k].dst.ip, &wnet.ip) &&
				(!cni_ip_is_set(&want->gw) || cni_ip_eq(&have[k].gw, &want->gw));
		char b[CNI_CIDR_STRLEN], g[CNI_IP_STRLEN] = "<nil>";
		if (!found) {
			if (cni_ip_is_set(&want->gw))
				cni_ip_fmt(&want->gw, g);
			return cni_errorf(err, CNI_ERR_CHECK_FAILED, "route (dst %s, gw %s) not found in the container",
					  cni_cidr_fmt(&want->dst, b), g);
		}
	}
	return 0;
}
