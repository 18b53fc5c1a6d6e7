/* bridge: connect a container to a Linux bridge on the host with a veth pair.
 *
 * ADD: ensure the bridge; create the veth from the host side with the peer
 * created directly in the container netns as CNI_IFNAME (one message, one
 * tx/rx queue, host end enslaved and UP at creation, no IPv6 link-local on
 * the host end); port flags; IPAM ADD; inside the netns DAD/arp_notify
 * sysctls and the IPAM result; gateway address on the bridge; forwarding;
 * masquerade; wait for the port to forward (on notifications, bounded);
 * result [bridge, host veth, container veth] with MACs read at the end.
 * Any failure after the veth exists rolls back: masquerade entries, IPAM
 * reservation and veth are removed.
 *
 * DEL: idempotent; masquerade entries removed by attachment (no address
 * needed), container veth deleted when the netns is there (or the host end
 * named in prevResult when it is not), IPAM released in every case.
 * CHECK: bridge, veth pair, MACs, addresses, routes, masquerade.
 * STATUS: IPAM's. GC: IPAM's, and masquerade entries of stale attachments. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/ipv6.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "bridge.h"
#include "cni/bridgefw.h"
#include "cni/exec.h"
#include "cni/json.h"
#include "cni/masq.h"
#include "cni/netlink.h"
#include "cni/netns.h"
#include "cni/plugin.h"
#include "cni/vethplugin.h"

#ifndef IN6_ADDR_GEN_MODE_NONE
#define IN6_ADDR_GEN_MODE_NONE 1
#endif

/* Bound for the bridge-port readiness wait: the reference's polling gives
 * up after 0+50+500+1000+1000 ms. */
#define PORT_WAIT_MS 2550

#define OOM(err) cni_errorf((err), CNI_ERR_INTERNAL, "out of memory")

/* ---- helpers ---------------------------------------------------------- */

/* Gateway of a subnet when IPAM gave none: network address + 1. */
static struct cni_ip gateway_of(const struct cni_cidr *a)
{
	struct cni_cidr net = cni_cidr_network(a);
	return cni_ip_next(&net.ip);
}

static bool is_default_dst(const struct cni_cidr *d, int family)
{
	return d->ip.family == family && d->prefix == 0;
}

/* The reference's calcGateways: with isGateway every IP gets a gateway
 * (IPAM's, or network+1) and that gateway/prefix goes on the bridge; with
 * isDefaultGateway each family gets a default route via its first gateway
 * unless IPAM already returned a default route with a gateway. */
struct gw_list {
	struct cni_cidr v[16];
	size_t n;
};

static int calc_gateways(const struct br_conf *cf, struct cni_result *res, struct gw_list *gws, struct cni_error *err)
{
	bool default_done[2] = { false, false };
	gws->n = 0;
	for (size_t i = 0; i < res->n_ips; i++) {
		struct cni_ipconfig *ipc = &res->ips[i];
		int fam = ipc->address.ip.family, fi = fam == AF_INET6;
		if (!cni_ip_is_set(&ipc->gateway) && cf->is_gw)
			ipc->gateway = gateway_of(&ipc->address);
		if (cf->is_default_gw && !default_done[fi]) {
			for (size_t k = 0; k < res->n_routes; k++)
				if (is_default_dst(&res->routes[k].dst, fam) && cni_ip_is_set(&res->routes[k].gw))
					default_done[fi] = true;
			if (!default_done[fi]) {
				struct cni_route rt = { 0 };
				rt.dst.ip.family = fam;
				rt.dst.prefix = 0;
				rt.gw = ipc->gateway;
				if (cni_result_add_route(res, &rt) < 0)
					return OOM(err);
				default_done[fi] = true;
			}
		}
		if (cf->is_gw) {
			struct cni_cidr g = { .ip = ipc->gateway, .prefix = ipc->address.prefix };
			bool dup = false;
			for (size_t k = 0; k < gws->n; k++)
				dup |= cni_ip_eq(&gws->v[k].ip, &g.ip) && gws->v[k].prefix == g.prefix;
			if (!dup && gws->n < ARRAY_SIZE(gws->v))
				gws->v[gws->n++] = g;
		}
	}
	return 0;
}

/* The reference's ensureAddr: put gw/prefix on the bridge. An equal
 * address is success (also when a concurrent ADD added it first). Another
 * IPv4 address, or an overlapping IPv6 one, is an error unless
 * forceAddress, which replaces it. */
static int ensure_bridge_addr(struct nl_sock *hsk, const struct br_conf *cf, const char *name, int br_index,
			      const struct cni_cidr *gw, struct cni_error *err)
{
	_cleanup_free_ struct cnl_addr *a = NULL;
	size_t n = 0;
	char want[CNI_CIDR_STRLEN], have[CNI_CIDR_STRLEN];
	cni_cidr_fmt(gw, want);
	if (cnl_addr_list_ex(hsk, br_index, gw->ip.family, &a, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (cni_ip_eq(&a[i].cidr.ip, &gw->ip) && a[i].cidr.prefix == gw->prefix)
			return 0;
		if (a[i].scope == RT_SCOPE_LINK && gw->ip.family == AF_INET6)
			continue; /* the bridge's own link-local */
		bool clash = gw->ip.family == AF_INET || cni_cidr_contains(&a[i].cidr, &gw->ip) ||
			     cni_cidr_contains(gw, &a[i].cidr.ip);
		if (!clash)
			continue;
		if (!cf->force_address)
			return cni_errorf(err, CNI_ERR_EXISTS, "\"%s\" already has an IP address different from %s",
					  name, want);
		struct cni_error e = { 0 };
		if (cnl_addr_del(hsk, br_index, &a[i].cidr, &e) < 0 && e.code != CNI_ERR_NOT_FOUND) {
			*err = e;
			return cni_error_wrap(err, "failed to remove IP address %s from \"%s\"",
					      cni_cidr_fmt(&a[i].cidr, have), name);
		}
	}
	struct cni_error e = { 0 };
	/* IPv6: no DAD on the gateway address, or containers could not use
	 * their gateway for the first second or two after ADD. */
	unsigned flags = gw->ip.family == AF_INET6 ? IFA_F_NODAD : 0;
	if (cnl_addr_add_flags(hsk, br_index, gw, flags, &e) < 0 && e.code != CNI_ERR_EXISTS) {
		*err = e;
		return cni_error_wrap(err, "could not add IP address to \"%s\"", name);
	}
	return 0;
}

/* VLAN programming of a bridge port, as the reference: without
 * preserveDefaultVlan every VLAN the port has (normally the bridge's
 * default PVID 1) goes first; trunk VIDs are added tagged, in ranges. Then
 * `vlan` as PVID, egress untagged (after the trunk, so that a `vlan` that is
 * also in the trunk stays the PVID; the reference adds it first and the
 * trunk entry then takes its PVID away). */
static int port_vlans(struct nl_sock *hsk, int ifindex, const struct br_conf *cf, bool trunk, struct cni_error *err)
{
	if (!cf->preserve_default_vlan && cnl_bridge_vlan(hsk, ifindex, false, 1, 4094, 0, err) < 0)
		return -1;
	for (int v = 1; trunk && v <= 4094; v++) {
		if (!(cf->trunk[v / 64] & (1ull << (v % 64))))
			continue;
		int hi = v;
		while (hi < 4094 && (cf->trunk[(hi + 1) / 64] & (1ull << ((hi + 1) % 64))))
			hi++;
		if (cnl_bridge_vlan(hsk, ifindex, true, (uint16_t)v, (uint16_t)hi, 0, err) < 0)
			return -1;
		v = hi;
	}
	if (cf->vlan && cnl_bridge_vlan(hsk, ifindex, true, (uint16_t)cf->vlan, (uint16_t)cf->vlan,
					CNL_VLAN_PVID | CNL_VLAN_UNTAGGED, err) < 0)
		return -1;
	return 0;
}

/* isGateway with `vlan`: the gateway address lives on "<bridge>.<vlan>",
 * one end of a veth pair in the host namespace whose other end is a bridge
 * port with `vlan` as PVID. Created by the first ADD that needs it (a
 * concurrent creator's EEXIST is success), never deleted, as the reference. */
static int ensure_vlan_gw(struct nl_sock *hsk, const struct br_conf *cf, int br_index, unsigned mtu,
			  struct cnl_link *out, struct cni_error *err)
{
	char name[IF_NAMESIZE];
	if (snprintf(name, sizeof(name), "%s.%d", cf->bridge, cf->vlan) >= (int)sizeof(name))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				  "VLAN gateway interface name \"%s.%d\" is longer than %d bytes", cf->bridge, cf->vlan,
				  IF_NAMESIZE - 1);
	struct cni_error e = { 0 };
	for (int attempt = 0; attempt < 10; attempt++) {
		if (cnl_link_query(hsk, name, 0, out, &e) == 0)
			return (out->flags & IFF_UP) ? 0 : cnl_link_set_up(hsk, out->ifindex, true, err);
		if (e.code != CNI_ERR_NOT_FOUND) {
			*err = e;
			return -1;
		}
		uint8_t rnd[4];
		char port[IF_NAMESIZE];
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			return cni_errorf_errno(err, CNI_ERR_INTERNAL, errno, "getrandom");
		snprintf(port, sizeof(port), "veth%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
		struct cnl_veth v = { .name = port, .peer_name = name, .peer_nsfd = -1, .mtu = mtu, .master = br_index,
				      .up = true };
		e = (struct cni_error){ 0 };
		if (cnl_veth_create(hsk, &v, &e) < 0) {
			if (e.code != CNI_ERR_EXISTS) {
				*err = e;
				return cni_error_wrap(err, "failed to create VLAN gateway interface \"%s\"", name);
			}
			continue; /* a concurrent ADD made it (or the port name was taken): look again */
		}
		struct cnl_link pl;
		struct cni_error ignore = { 0 };
		if (cnl_link_query(hsk, port, 0, &pl, err) < 0)
			return -1;
		(void)cnl_link_set_addrgenmode(hsk, pl.ifindex, IN6_ADDR_GEN_MODE_NONE, &ignore);
		if (port_vlans(hsk, pl.ifindex, cf, false, err) < 0) {
			(void)cnl_link_del(hsk, pl.ifindex, &ignore);
			return -1;
		}
	}
	return cni_errorf(err, CNI_ERR_EXISTS, "could not create VLAN gateway interface \"%s\"", name);
}

/* mtuFromDefaultRoute: the MTU of the interface of the lowest-metric IPv4
 * default route in the main table (IPv6 when there is none). */
static int default_route_mtu(struct nl_sock *hsk, unsigned *mtu, struct cni_error *err)
{
	int fams[2] = { AF_INET, AF_INET6 };
	for (int f = 0; f < 2; f++) {
		_cleanup_free_ struct cnl_route *r = NULL;
		size_t n = 0;
		if (cnl_route_list(hsk, 0, fams[f], RT_TABLE_MAIN, &r, &n, err) < 0)
			return -1;
		int best = -1;
		for (size_t i = 0; i < n; i++)
			if (r[i].dst.prefix == 0 && r[i].oif && r[i].type == RTN_UNICAST &&
			    (best < 0 || r[i].priority < r[best].priority))
				best = (int)i;
		if (best < 0)
			continue;
		struct cnl_link l;
		if (cnl_link_query(hsk, NULL, r[best].oif, &l, err) < 0)
			return -1;
		*mtu = l.mtu;
		return 0;
	}
	return cni_errorf(err, CNI_ERR_NOT_FOUND, "mtuFromDefaultRoute: the host has no default route");
}

/* ---- ADD -------------------------------------------------------------- */

struct add_state {
	struct cni_call *c;
	struct br_conf *cf;
	struct nl_sock *csk;       /* container netns */
	struct cni_result *res;
	struct cnl_link *cl;       /* out: the container end as found */
};

/* Runs inside the container netns. The DAD sysctl must be written before
 * the link goes UP (DAD starts then). The link is new: sysctls that we
 * move away from the kernel default are written without reading first. */
static int container_setup(void *arg, struct cni_error *err)
{
	struct add_state *st = arg;
	const char *ifn = st->c->ifname;
	struct cni_error ignore = { 0 };
	struct cnl_link l;
	if (cnl_link_query(st->csk, ifn, 0, &l, err) < 0)
		return -1;
	*st->cl = l; /* configuring changes neither its MAC nor its MTU */
	/* the values come with the link: only the ones to change are written */
	if (st->cf->enabledad) {
		(void)cni_sysctl_setf("1", &ignore, "net/ipv6/conf/%s/enhanced_dad", ifn);
		if (l.in6_accept_dad < 1)
			(void)cni_sysctl_writef("1", &ignore, "net/ipv6/conf/%s/accept_dad", ifn);
	} else if (l.in6_accept_dad != 0) {
		(void)cni_sysctl_writef("0", &ignore, "net/ipv6/conf/%s/accept_dad", ifn);
	}
	if (st->cf->ipam_type) {
		cnl_link_notify_peers_on(st->csk, &l, false);
		return cnl_configure_link(st->csk, &l, st->res, err);
	}
	if (st->cf->disable_container_iface)
		return 0;
	return cnl_link_set_up(st->csk, l.ifindex, true, err);
}

static int cmd_add(struct cni_call *c)
{
	struct cni_error *err = &c->err;
	struct br_conf cf;
	if (br_conf_load(c, &cf, err) < 0)
		return -1;
	_cleanup_close_ int nsfd = -1;
	_cleanup_nl_ struct nl_sock *hsk = NULL, *csk = NULL;
	if (vethp_open(c, &nsfd, &hsk, &csk, err) < 0)
		return -1;

	unsigned mtu = cf.mtu;
	if (!mtu && cf.mtu_from_default_route && default_route_mtu(hsk, &mtu, err) < 0)
		return -1;

	struct cnl_link br;
	if (cnl_bridge_ensure(hsk, cf.bridge, mtu, br_conf_vlan_filtering(&cf), &br, err) < 0)
		return -1;
	/* internal: the bridge is marked before any port is added, so no
	 * container on it ever has a way out. A per-bridge mark, kept. */
	_cleanup_nft_ struct cni_nft *nft = NULL;
	if (cf.internal) {
		nft = cni_nft_open(err);
		if (!nft || internal_br_add(nft, cf.bridge, br.ifindex, err) < 0)
			return -1;
	}
	struct cni_error ignore = { 0 };
	if (cf.promisc && !(br.flags & IFF_PROMISC) && cnl_link_set_promisc(hsk, br.ifindex, true, err) < 0)
		return cni_error_wrap(err, "could not set promiscuous mode on \"%s\"", cf.bridge);
	if (br.in6_accept_ra != 0) /* read with the link: no /proc/sys lookup once it is 0 */
		(void)cni_sysctl_setf("0", &ignore, "net/ipv6/conf/%s/accept_ra", cf.bridge);

	char host[IF_NAMESIZE];
	/* The host end is created DOWN: addrgenmode and port settings go on
	 * a link that never had carrier, and it goes UP once, so its carrier
	 * changes once. Every carrier/up change of a host link walks all IPv6
	 * routes of the host netns (rt6_sync_down_dev/rt6_sync_up), which is
	 * what made ADD grow with the number of veths on the host. */
	struct cnl_link hl, cl;
	if (vethp_create_ex(hsk, csk, nsfd, c, mtu, cf.has_mac ? cf.mac : NULL, br.ifindex, false, host, &hl, err) < 0)
		return -1;

	/* From here on every failure undoes what was done. */
	bool ipam_added = false, masq_added = false, spoof_added = false;
	_cleanup_close_ int watch = -1; /* link notifications, opened before the host end goes UP */
	_cleanup_nft_ struct cni_nft *brnft = NULL;
	_cleanup_result_ struct cni_result *res = NULL;
	if (!hl.ifindex && cnl_link_query(hsk, host, 0, &hl, err) < 0) /* kernel without NLM_F_ECHO here */
		goto fail;
	/* The host end is only a bridge port: no IPv6 link-local (no DAD,
	 * MLD or RS flooded to every port, kernel-floor.md section 2). The
	 * kernel takes this only while the link is down. */
	/* No accept_ra=0 on it (the reference writes one): a bridge port's
	 * own IPv6 stack never sees a frame (the bridge's rx handler consumes
	 * or drops everything the port receives), and without a link-local
	 * address it sends no RS either, so the setting is inert, while the
	 * /proc/sys lookup to write it costs O(netns on the machine). */
	(void)cnl_link_set_addrgenmode(hsk, hl.ifindex, IN6_ADDR_GEN_MODE_NONE, &ignore);
	if (cnl_bridge_port_set(hsk, hl.ifindex, cf.hairpin ? 1 : -1, cf.port_isolation ? 1 : -1, err) < 0)
		goto fail;
	if (br_conf_vlan_filtering(&cf) && port_vlans(hsk, hl.ifindex, &cf, true, err) < 0)
		goto fail;
	if (cf.macspoofchk) {
		/* only the container veth's MAC may enter the bridge here */
		if (cnl_link_query(csk, c->ifname, 0, &cl, err) < 0)
			goto fail;
		brnft = spoofchk_open(err);
		if (!brnft)
			goto fail;
		spoof_added = true;
		if (spoofchk_add(brnft, c->net_name, c->container_id, c->ifname, host, cl.mac, err) < 0)
			goto fail;
	}

	if (cf.ipam_type) {
		if (cni_delegate(c, cf.ipam_type, CNI_CMD_ADD, &res, err) < 0)
			goto fail;
		ipam_added = true;
		if (res->n_ips == 0) {
			cni_errorf(err, CNI_ERR_INVALID_CONFIG, "IPAM plugin returned missing IP config");
			goto fail;
		}
		if (cf.internal) { /* no way out: drop default routes IPAM gave */
			size_t k = 0;
			for (size_t i = 0; i < res->n_routes; i++)
				if (res->routes[i].dst.prefix != 0)
					res->routes[k++] = res->routes[i];
			res->n_routes = k;
		}
	} else {
		res = cni_result_new();
		if (!res) {
			OOM(err);
			goto fail;
		}
	}
	/* interfaces [bridge, host veth, container veth]; IPs point at 2 */
	vethp_result_clear_ifaces(res);
	if (cni_result_add_interface(res, cf.bridge, NULL, NULL) < 0 || cni_result_add_interface(res, host, NULL, NULL) < 0 ||
	    cni_result_add_interface(res, c->ifname, NULL, c->netns) < 0) {
		OOM(err);
		goto fail;
	}
	for (size_t i = 0; i < res->n_ips; i++)
		res->ips[i].interface = 2;
	struct gw_list gws;
	if (calc_gateways(&cf, res, &gws, err) < 0)
		goto fail;

	if (cf.is_gw) {
		bool v4 = false, v6 = false;
		/* the gateway: the bridge, or "<bridge>.<vlan>" (result interface 3) */
		struct cnl_link gwl = br;
		if (cf.vlan && gws.n) {
			if (ensure_vlan_gw(hsk, &cf, br.ifindex, mtu, &gwl, err) < 0)
				goto fail;
			char b[18];
			if (cni_result_add_interface(res, gwl.name, gwl.has_mac ? cnl_mac_fmt(gwl.mac, b) : NULL, NULL) < 0 ||
			    vethp_fill_iface(res, (int)res->n_interfaces - 1, &gwl) < 0) {
				OOM(err);
				goto fail;
			}
		}
		for (size_t i = 0; i < gws.n; i++) {
			if (ensure_bridge_addr(hsk, &cf, gwl.name, gwl.ifindex, &gws.v[i], err) < 0)
				goto fail;
			v4 |= gws.v[i].ip.family == AF_INET;
			v6 |= gws.v[i].ip.family == AF_INET6;
		}
		/* Pin the bridge MAC (an explicitly set MAC is kept when ports
		 * come and go); bridges we create already have one. Read it
		 * now: a bridge that had no port reports 00:00:00:00:00:00 and
		 * takes its lowest port's MAC when one is attached. */
		static const uint8_t zero[6];
		if (gws.n && cnl_link_query(hsk, NULL, br.ifindex, &br, err) < 0)
			goto fail;
		if (gws.n && br.has_mac && memcmp(br.mac, zero, 6) &&
		    cnl_link_set_mac(hsk, br.ifindex, br.mac, err) < 0) {
			cni_error_wrap(err, "could not set bridge's mac");
			goto fail;
		}
		if (v4 && cnl_forwarding_ensure(hsk, AF_INET, err) < 0)
			goto fail;
		if (v6 && cnl_forwarding_ensure(hsk, AF_INET6, err) < 0)
			goto fail;
	}

	if (cf.ip_masq && res->n_ips) {
		masq_added = true;
		if (vethp_masq_add(&nft, c, res->ips, res->n_ips, err) < 0)
			goto fail;
	}

	/* Host end UP last, after the container end when possible (the
	 * carrier then comes on with the UP, one state change); before it
	 * with enabledad, whose DAD (and the wait for it) needs the carrier.
	 * Everything else on the host is done first and the result's MACs
	 * and MTUs are read before the carrier comes on: from then on the
	 * container's IPv6 start-up (router solicitation, MLD reports, sent at
	 * once with DAD off and flooded to every port of the bridge) runs in a
	 * kernel worker holding RTNL, and a request of ours would queue behind
	 * it, O(ports) long. (The bridge's MAC is pinned or follows its ports,
	 * all attached by now; UP changes neither.) */
	if (!cf.disable_container_iface && (watch = cnl_link_watch_open(err)) < 0)
		goto fail;
	if (cf.enabledad && cnl_link_set_up(hsk, hl.ifindex, true, err) < 0)
		goto fail;
	struct add_state st = { .c = c, .cf = &cf, .csk = csk, .res = res, .cl = &cl };
	if (netns_run_fd(nsfd, container_setup, &st, err) < 0)
		goto fail;
	if (cnl_link_query(hsk, NULL, br.ifindex, &br, err) < 0)
		goto fail;
	if (!cf.enabledad && cnl_link_set_up(hsk, hl.ifindex, true, err) < 0)
		goto fail;

	/* The bridge enables a port from the kernel's linkwatch work, after
	 * the carrier comes up: asynchronous, usually done by now. Frames sent
	 * before it are dropped (the reason the reference polls at
	 * 0/50/500/1000/1000 ms). We sleep on the link notifications we
	 * subscribed to before the UP (they carry the port state) until it is
	 * ready; the host end as last seen goes into the result. */
	if (!cf.disable_container_iface) {
		if (cnl_wait_bridge_port_watch(hsk, watch, hl.ifindex, PORT_WAIT_MS, &hl, err) < 0)
			goto fail;
	} else if (cnl_link_query(hsk, NULL, hl.ifindex, &hl, err) < 0) {
		goto fail;
	}
	if (vethp_fill_iface(res, 0, &br) < 0 || vethp_fill_iface(res, 1, &hl) < 0 || vethp_fill_iface(res, 2, &cl) < 0) {
		OOM(err);
		goto fail;
	}
	if (vethp_add_result(c, &res, err) < 0)
		goto fail;
	return 0;

fail:
	/* Rollback, best effort: the first error is the one reported. */
	if (spoof_added && brnft) {
		struct cni_error e = { 0 };
		(void)spoofchk_del(brnft, c->net_name, c->container_id, c->ifname, &e);
	}
	vethp_add_rollback(c, masq_added ? nft : NULL, hsk, host, ipam_added ? cf.ipam_type : NULL, err);
	return -1;
}

/* ---- DEL -------------------------------------------------------------- */

static int cmd_del(struct cni_call *c)
{
	struct cni_error *err = &c->err;
	struct br_conf cf;
	if (br_conf_load(c, &cf, err) < 0)
		return -1;
	struct cni_error first = { 0 }, e = { 0 };
#define KEEP(call)                                   \
	do {                                         \
		e = (struct cni_error){ 0 };         \
		if ((call) < 0 && !first.code)       \
			first = e;                   \
	} while (0)

	/* Masquerade first and its socket closed last: the veth delete's RCU
	 * barrier then covers the grace period an nft deletion costs at
	 * socket close (kernel-floor.md section 5). */
	_cleanup_nft_ struct cni_nft *nft = NULL;
	if (cf.ip_masq) {
		nft = cni_nft_open(&e);
		if (!nft && !first.code)
			first = e;
		if (nft)
			KEEP(masq_del(nft, c->net_name, c->container_id, c->ifname, &e));
	}
	_cleanup_nft_ struct cni_nft *brnft = NULL;
	if (cf.macspoofchk) {
		brnft = spoofchk_open(&e);
		if (!brnft && !first.code)
			first = e;
		if (brnft)
			KEEP(spoofchk_del(brnft, c->net_name, c->container_id, c->ifname, &e));
	}

	/* IPAM release in a second thread while the veth goes: its exec and
	 * work overlap the veth's RCU barrier */
	struct cni_delegate_bg ipam;
	if (cf.ipam_type)
		cni_delegate_bg_start(&ipam, c, cf.ipam_type, CNI_CMD_DEL);
	vethp_del_container(c, cf.bridge, &first);
	if (cf.ipam_type)
		KEEP(cni_delegate_bg_wait(&ipam, &e));
#undef KEEP
	if (first.code) {
		*err = first;
		return -1;
	}
	return 0;
}

/* ---- CHECK ------------------------------------------------------------ */

static bool mac_matches(const char *want, const struct cnl_link *l)
{
	uint8_t m[6];
	if (!want || !*want)
		return true;
	return cnl_mac_parse(want, m) == 0 && l->has_mac && !memcmp(m, l->mac, 6);
}

static bool vid_in(const uint64_t *bm, int v) { return bm[v / 64] & (1ull << (v % 64)); }

/* The port's VLANs as port_vlans() programmed them: `vlan` the untagged
 * PVID, every trunk VID tagged; without preserveDefaultVlan nothing else
 * (with it, what the port had before stays allowed). */
static int check_port_vlans(struct nl_sock *hsk, const struct cnl_link *hl, const struct br_conf *cf,
			    struct cni_error *err)
{
	struct cnl_port_vlans pv;
	if (cnl_bridge_port_vlans(hsk, hl->ifindex, &pv, err) < 0)
		return -1;
	if (cf->vlan && (!vid_in(pv.vids, cf->vlan) || pv.pvid != cf->vlan || !vid_in(pv.untagged, cf->vlan)))
		return vethp_check_failed(err, "bridge port %s does not have vlan %d as its untagged PVID", hl->name,
					  cf->vlan);
	for (int v = 1; v <= 4094; v++) {
		bool trunk = vid_in(cf->trunk, v);
		if (trunk && v != cf->vlan && (!vid_in(pv.vids, v) || vid_in(pv.untagged, v)))
			return vethp_check_failed(err, "bridge port %s does not carry trunk vlan %d tagged", hl->name, v);
		if (!cf->preserve_default_vlan && !trunk && v != cf->vlan && vid_in(pv.vids, v))
			return vethp_check_failed(err, "bridge port %s carries vlan %d, which is not in its configuration",
						  hl->name, v);
	}
	return 0;
}

static int cmd_check(struct cni_call *c)
{
	struct cni_error *err = &c->err;
	struct br_conf cf;
	if (br_conf_load(c, &cf, err) < 0)
		return -1;
	if (cf.ipam_type && cni_delegate(c, cf.ipam_type, CNI_CMD_CHECK, NULL, err) < 0)
		return -1;
	if (!c->prev)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "Required prevResult missing");
	const struct cni_result *p = c->prev;

	_cleanup_close_ int nsfd = -1;
	_cleanup_nl_ struct nl_sock *hsk = NULL, *csk = NULL;
	if (vethp_open(c, &nsfd, &hsk, &csk, err) < 0)
		return -1;

	int bi = -1, ci = -1;
	for (size_t i = 0; i < p->n_interfaces; i++) {
		const struct cni_interface *it = &p->interfaces[i];
		if (!it->name)
			continue;
		if (!it->sandbox || !*it->sandbox) {
			if (!strcmp(it->name, cf.bridge))
				bi = (int)i;
		} else if (!strcmp(it->name, c->ifname)) {
			ci = (int)i;
		}
	}
	/* bridge */
	struct cnl_link br;
	if (bi < 0 || cnl_link_query(hsk, cf.bridge, 0, &br, err) < 0 || strcmp(br.kind, "bridge"))
		return vethp_check_failed(err, "CNI created bridge %s in host namespace was not found", cf.bridge);
	if (!mac_matches(p->interfaces[bi].mac, &br))
		return vethp_check_failed(err, "bridge %s MAC %s does not match the kernel's", cf.bridge, p->interfaces[bi].mac);
	if (!!(br.flags & IFF_PROMISC) != cf.promisc)
		return vethp_check_failed(err, "bridge %s promiscuous mode is %s, expected %s", cf.bridge,
				    br.flags & IFF_PROMISC ? "on" : "off", cf.promisc ? "on" : "off");
	/* container veth */
	if (ci < 0)
		return vethp_check_failed(err, "interface %s not found in prevResult", c->ifname);
	if (strcmp(p->interfaces[ci].sandbox, c->netns))
		return vethp_check_failed(err, "Sandbox in prevResult %s doesn't match configured netns: %s",
				    p->interfaces[ci].sandbox, c->netns);
	struct cnl_link cl;
	if (cnl_link_query(csk, c->ifname, 0, &cl, err) < 0) {
		err->code = CNI_ERR_CHECK_FAILED;
		return cni_error_wrap(err, "container interface %s", c->ifname);
	}
	if (strcmp(cl.kind, "veth"))
		return vethp_check_failed(err, "container interface %s is a %s, not a veth", c->ifname, cl.kind[0] ? cl.kind : "device");
	if (!mac_matches(p->interfaces[ci].mac, &cl))
		return vethp_check_failed(err, "interface %s MAC %s does not match the kernel's", c->ifname, p->interfaces[ci].mac);
	if (!cf.disable_container_iface && !(cl.flags & IFF_UP))
		return vethp_check_failed(err, "interface %s is down", c->ifname);
	/* host veth: the peer of the container veth, enslaved to the bridge */
	bool host_ok = false;
	struct cnl_link hl;
	for (size_t i = 0; i < p->n_interfaces && !host_ok; i++) {
		const struct cni_interface *it = &p->interfaces[i];
		struct cni_error e = { 0 };
		if ((int)i == bi || !it->name || (it->sandbox && *it->sandbox))
			continue;
		if (cnl_link_query(hsk, it->name, 0, &hl, &e) < 0)
			continue;
		host_ok = !strcmp(hl.kind, "veth") && hl.ifindex == cl.link && hl.master == br.ifindex &&
			  (cf.hairpin ? hl.brport_hairpin == 1 : true) && (cf.port_isolation ? hl.brport_isolated == 1 : true);
	}
	if (!host_ok)
		return vethp_check_failed(err, "CNI veth created for bridge %s was not found", cf.bridge);
	if (br_conf_vlan_filtering(&cf) && check_port_vlans(hsk, &hl, &cf, err) < 0)
		return -1;
	if (vethp_check_addrs_routes(csk, cl.ifindex, c->ifname, p, ci, err) < 0)
		return -1;
	if (cf.ip_masq && p->n_ips && vethp_masq_check(c, p->ips, p->n_ips, err) < 0)
		return -1;
	if (cf.internal) {
		_cleanup_nft_ struct cni_nft *nft = cni_nft_open(err);
		if (!nft || internal_br_check(nft, cf.bridge, br.ifindex, err) < 0)
			return -1;
	}
	if (cf.macspoofchk) {
		_cleanup_nft_ struct cni_nft *brnft = spoofchk_open(err);
		if (!brnft || spoofchk_check(brnft, c->net_name, c->container_id, c->ifname, hl.name, cl.mac, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- STATUS / GC ------------------------------------------------------ */

/* GC beyond masquerade and IPAM (vethp_gc): macspoofchk entries of stale
 * attachments, and the internal mark of a bridge that is gone. */
static void gc_extra(struct cni_call *c, const struct cni_attachment *valid, size_t n, bool present,
		     struct cni_error *first)
{
	struct cni_error e = { 0 };
	bool spoof = false, internal = false;
	const char *bridge = NULL;
	(void)cj_bool(c->conf, "macspoofchk", &spoof, &e);
	(void)cj_bool(c->conf, "internal", &internal, &e);
	(void)cj_str(c->conf, "bridge", &bridge, &e);
	if (!bridge || !*bridge)
		bridge = "cni0";
	if (spoof && present) {
		e = (struct cni_error){ 0 };
		_cleanup_nft_ struct cni_nft *brnft = spoofchk_open(&e);
		if ((!brnft || spoofchk_gc(brnft, c->net_name, valid, n, &e) < 0) && !first->code)
			*first = e;
	}
	if (internal) {
		struct cnl_link br;
		int ifindex = 0;
		e = (struct cni_error){ 0 };
		_cleanup_nl_ struct nl_sock *hsk = cnl_open(&e);
		if (hsk && cnl_link_query(hsk, bridge, 0, &br, &e) == 0)
			ifindex = br.ifindex;
		if (hsk && (ifindex || e.code == CNI_ERR_NOT_FOUND)) {
			e = (struct cni_error){ 0 };
			_cleanup_nft_ struct cni_nft *nft = cni_nft_open(&e);
			if ((!nft || internal_br_gc(nft, bridge, ifindex, &e) < 0) && !first->code)
				*first = e;
		}
	}
}

static int cmd_gc(struct cni_call *c)
{
	return vethp_gc(c, gc_extra);
}

static const char *const args_keys[] = { "MAC", NULL };

static const struct cni_plugin plugin = {
	.name = "bridge",
	.about = "connects containers to a Linux bridge with veth pairs",
	.args_keys = args_keys,
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
