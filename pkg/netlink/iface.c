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
			const char *names[2] = { "lo", ifname };
			for (int k = 0; k < 2; k++) {
				struct cni_error e = { 0 };
				if (cni_sysctl_setf("0", &e, "net/ipv6/conf/%s/disable_ipv6", names[k]) < 0) {
					if (e.code == CNI_ERR_NOT_FOUND)
						continue; /* IPv6 absent: the address add will say so */
					*err = e;
					return cni_error_wrap(err, "failed to enable IPv6 for interface \"%s\"", names[k]);
				}
			}
			/* keep the addresses when the link goes down (e.g. an MTU or MAC change by a later plugin) */
			struct cni_error e = { 0 };
			(void)cni_sysctl_setf("1", &e, "net/ipv6/conf/%s/keep_addr_on_down", ifname);
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
