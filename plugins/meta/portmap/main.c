/* portmap: publish container ports on the host (docker run -p) with
 * nftables maps in table inet cni_c. See README.md next to this file.
 *
 * ADD: parse runtimeConfig.portMappings; no mappings -> print prevResult,
 * touch nothing. Otherwise, under a node-wide flock: refuse a (hostIP,
 * protocol, hostPort) published by another live attachment (unless
 * conflictPolicy is lastWriterWins), write the attachment's record, commit
 * one nft transaction (map elements + hairpin/localhost masquerade
 * elements), set route_localnet on the interface routing to the container,
 * flush stale UDP conntrack entries of the host ports.
 * DEL: from the record alone (no prevResult or runtimeConfig needed).
 * CHECK: every mapping is in the maps, ours, pointing at prevResult's address.
 * GC: elements and records of attachments not in the valid list, then the
 * hairpin source subnets no snat container is in any more. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter_ipv4.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cni/conntrack.h"
#include "cni/json.h"
#include "cni/netlink.h"
#include "cni/nft.h"
#include "cni/plugin.h"
#include "cni/socklb.h"
#include "portmap.h"

#define KIND "portmap"
#define R0 NFT_REG32_00

struct mapping {
	int host_port, container_port;
	uint8_t proto;
	const char *proto_name;
	struct cni_ip host_ip; /* family 0: any address */
};

struct pm_conf {
	struct mapping *m;
	size_t n;
	bool snat, masq_all, lww;
	struct pm_cond *cond[2]; /* [0] v4, [1] v6 */
	size_t n_cond[2];
};

static void conf_free(struct pm_conf *c)
{
	free(c->m);
	free(c->cond[0]);
	free(c->cond[1]);
}

static int parse_conf(struct cni_call *c, struct pm_conf *pc)
{
	struct cni_error *err = &c->err;
	memset(pc, 0, sizeof(*pc));
	pc->snat = true;
	if (cj_bool(c->conf, "snat", &pc->snat, err) < 0 || cj_bool(c->conf, "masqAll", &pc->masq_all, err) < 0)
		return -1;
	const char *backend = NULL, *ext = NULL, *policy = NULL;
	long long bit = -1;
	if (cj_str(c->conf, "backend", &backend, err) < 0 || cj_str(c->conf, "externalSetMarkChain", &ext, err) < 0 ||
	    cj_int(c->conf, "markMasqBit", &bit, err) < 0 || cj_str(c->conf, "conflictPolicy", &policy, err) < 0)
		return -1;
	/* accepted for drop-in compatibility; this plugin always uses nftables
	 * maps and marks nothing (README.md) */
	if (backend && strcmp(backend, "iptables") && strcmp(backend, "nftables"))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "unrecognized backend \"%s\"", backend);
	if (ext && bit >= 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "Cannot specify externalSetMarkChain and markMasqBit");
	if (bit != -1 && (bit < 0 || bit > 31))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "MasqMarkBit must be between 0 and 31");
	if (policy && !strcmp(policy, "lastWriterWins"))
		pc->lww = true;
	else if (policy && strcmp(policy, "error"))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				  "conflictPolicy must be \"error\" or \"lastWriterWins\", not \"%s\"", policy);
	if (pm_conditions_parse(cj_get(c->conf, "conditionsV4"), "conditionsV4", AF_INET, &pc->cond[0], &pc->n_cond[0],
				err) < 0 ||
	    pm_conditions_parse(cj_get(c->conf, "conditionsV6"), "conditionsV6", AF_INET6, &pc->cond[1],
				&pc->n_cond[1], err) < 0)
		return -1;

	json_t *pm = cni_call_runtime_config(c, "portMappings");
	if (!pm)
		return 0;
	if (!json_is_array(pm))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "runtimeConfig.portMappings must be a list");
	pc->m = cni_xcalloc(json_array_size(pm), sizeof(*pc->m));
	if (!pc->m)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < json_array_size(pm); i++) {
		json_t *o = json_array_get(pm, i);
		struct mapping *m = &pc->m[pc->n];
		long long hp = 0, cp = 0;
		const char *proto = NULL, *hip = NULL;
		if (!json_is_object(o))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "runtimeConfig.portMappings[%zu] must be an object", i);
		if (cj_int(o, "hostPort", &hp, err) < 0 || cj_int(o, "containerPort", &cp, err) < 0 ||
		    cj_str(o, "protocol", &proto, err) < 0 || cj_str(o, "hostIP", &hip, err) < 0)
			return -1;
		if (hp <= 0 || hp > 65535)
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "Invalid host port number: %lld", hp);
		if (cp <= 0 || cp > 65535)
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "Invalid container port number: %lld", cp);
		if (!proto || !*proto || !strcasecmp(proto, "tcp")) {
			m->proto = IPPROTO_TCP;
			m->proto_name = "tcp";
		} else if (!strcasecmp(proto, "udp")) {
			m->proto = IPPROTO_UDP;
			m->proto_name = "udp";
		} else if (!strcasecmp(proto, "sctp")) {
			m->proto = IPPROTO_SCTP;
			m->proto_name = "sctp";
		} else {
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "unknown protocol \"%s\" in portMappings[%zu]", proto,
					  i);
		}
		if (hip && *hip) {
			if (cni_ip_parse(hip, &m->host_ip) < 0)
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid hostIP \"%s\" in portMappings[%zu]",
						  hip, i);
			if (cni_ip_is_unspecified(&m->host_ip))
				m->host_ip.family = m->host_ip.family == AF_INET ? -AF_INET : -AF_INET6; /* any, one family */
		}
		m->host_port = (int)hp;
		m->container_port = (int)cp;
		pc->n++;
	}
	return 0;
}

/* First v4 and first v6 address of the CNI_IFNAME interface with a sandbox
 * (addresses without an interface index count), as the reference does. */
static void container_ips(const struct cni_call *c, struct cni_cidr *v4, struct cni_cidr *v6)
{
	memset(v4, 0, sizeof(*v4));
	memset(v6, 0, sizeof(*v6));
	const struct cni_result *r = c->prev;
	for (size_t i = 0; i < r->n_ips; i++) {
		const struct cni_ipconfig *ip = &r->ips[i];
		if (ip->interface >= 0) {
			if ((size_t)ip->interface >= r->n_interfaces)
				continue;
			const struct cni_interface *f = &r->interfaces[ip->interface];
			if (!f->name || strcmp(f->name, c->ifname) || !f->sandbox || !*f->sandbox)
				continue;
		}
		struct cni_cidr *dst = ip->address.ip.family == AF_INET ? v4 : v6;
		if (!dst->ip.family)
			*dst = ip->address;
	}
}

/* ---- the nft objects -------------------------------------------------- */

struct entry {
	struct nft_owned o;
	int family;
	bool is_map;
	const struct mapping *m;
};

static void map_names(const char *net, bool cond, int family, bool hostip, char out[NFT_NAME_MAX])
{
	const char *p = family == AF_INET ? (hostip ? "pm4h" : "pm4") : (hostip ? "pm6h" : "pm6");
	if (!cond) {
		snprintf(out, NFT_NAME_MAX, "%s", p);
		return;
	}
	char pre[16];
	snprintf(pre, sizeof(pre), "%s_", p);
	nft_name(out, pre, net);
}

static struct nftnl_set *map_new(const char *name, int family, bool hostip)
{
	bool v4 = family == AF_INET;
	uint32_t at = v4 ? NFT_TYPE_IPADDR : NFT_TYPE_IP6ADDR, alen = v4 ? 4 : 16;
	uint32_t kt[3] = { at, NFT_TYPE_INET_PROTO, NFT_TYPE_INET_SERVICE };
	uint32_t dt[2] = { at, NFT_TYPE_INET_SERVICE };
	return nft_set_new(name, NFT_SET_MAP | NFT_SET_TIMEOUT, hostip ? nft_concat_type(kt, 3) : nft_concat_type(kt + 1, 2),
			   hostip ? alen + 8 : 8, nft_concat_type(dt, 2), alen + 4);
}

/* [cond] [ip daddr .] meta l4proto . th dport -> dnat to map */
static struct nftnl_rule *dnat_rule(const char *map, int family, bool hostip, const struct pm_cond *cond, size_t ncond,
				    const char *comment)
{
	bool v4 = family == AF_INET;
	struct nftnl_rule *r = nft_rule_new("pm_dnat", comment);
	if (!r)
		return NULL;
	nftr_nfproto(r, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
	pm_conditions_emit(r, family, cond, ncond);
	uint32_t reg = R0;
	if (hostip) {
		nftr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 16 : 24, v4 ? 4 : 16, reg);
		reg += v4 ? 1 : 4;
	}
	nftr_meta(r, NFT_META_L4PROTO, reg);
	nftr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg + 1);
	nftr_lookup(r, R0, map, R0, false);
	nftr_dnat(r, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6, R0, v4 ? R0 + 1 : R0 + 4);
	return r;
}

static int queue_rule(struct nft_batch *b, struct nftnl_rule *r)
{
	if (!r)
		return -1;
	nftb_rule(b, r);
	nftnl_rule_free(r);
	return 0;
}

static int queue_set(struct nft_batch *b, struct nftnl_set *s, uint16_t flags)
{
	if (!s)
		return -1;
	nftb_set(b, s, flags);
	nftnl_set_free(s);
	return 0;
}

/* ct status dnat ... masquerade */
static struct nftnl_rule *masq_rule(int family, const char *src_set, const char *dst_set, const char *comment)
{
	bool v4 = family == AF_INET;
	struct nftnl_rule *r = nft_rule_new("pm_postrouting", comment);
	if (!r)
		return NULL;
	nftr_nfproto(r, v4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
	uint32_t mask = IPS_DST_NAT, zero = 0;
	nftr_ct(r, NFT_CT_STATUS, NFT_REG_1);
	nftr_bitwise(r, NFT_REG_1, NFT_REG_1, &mask, 4);
	nftr_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &zero, 4);
	if (src_set) {
		nftr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 12 : 8, v4 ? 4 : 16, NFT_REG_1);
		nftr_lookup(r, NFT_REG_1, src_set, 0, false);
	}
	nftr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 16 : 24, v4 ? 4 : 16, NFT_REG_1);
	nftr_lookup(r, NFT_REG_1, dst_set, 0, false);
	nftr_masq(r);
	return r;
}

/* Everything shared by all networks; created once, pm4 with EXCL. */
static int queue_base(struct nft_batch *b)
{
	nftb_table(b);
	nftb_chain(b, "pm_guard", NF_INET_PRE_ROUTING, -150, "filter");
	nftb_chain(b, "pm_prerouting", NF_INET_PRE_ROUTING, NF_IP_PRI_NAT_DST, "nat");
	nftb_chain(b, "pm_output", NF_INET_LOCAL_OUT, NF_IP_PRI_NAT_DST, "nat");
	nftb_chain(b, "pm_dnat", -1, 0, NULL);
	nftb_chain(b, "pm_postrouting", NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC - 1, "nat");
	static const int fams[2] = { AF_INET, AF_INET6 };
	for (int f = 0; f < 2; f++) {
		int fam = fams[f];
		bool v4 = fam == AF_INET;
		uint32_t at = v4 ? NFT_TYPE_IPADDR : NFT_TYPE_IP6ADDR, alen = v4 ? 4 : 16;
		char n1[NFT_NAME_MAX], n2[NFT_NAME_MAX];
		map_names(NULL, false, fam, false, n1);
		map_names(NULL, false, fam, true, n2);
		if (queue_set(b, map_new(n1, fam, false), NLM_F_EXCL) < 0 || queue_set(b, map_new(n2, fam, true), 0) < 0 ||
		    queue_set(b, nft_set_new(v4 ? "pmsrc4" : "pmsrc6", NFT_SET_INTERVAL, at, alen, 0, 0), 0) < 0 ||
		    queue_set(b, nft_set_new(v4 ? "pmdst4" : "pmdst6", NFT_SET_TIMEOUT, at, alen, 0, 0), 0) < 0 ||
		    queue_set(b, nft_set_new(v4 ? "pmall4" : "pmall6", NFT_SET_TIMEOUT, at, alen, 0, 0), 0) < 0)
			return -1;
		if (queue_rule(b, dnat_rule(n2, fam, true, NULL, 0, "cni-c portmap: published ports bound to a host IP")) < 0 ||
		    queue_rule(b, dnat_rule(n1, fam, false, NULL, 0, "cni-c portmap: published ports")) < 0 ||
		    queue_rule(b, masq_rule(fam, v4 ? "pmsrc4" : "pmsrc6", v4 ? "pmdst4" : "pmdst6",
					    "cni-c portmap: hairpin and localhost snat")) < 0 ||
		    queue_rule(b, masq_rule(fam, NULL, v4 ? "pmall4" : "pmall6", "cni-c portmap: masqAll")) < 0)
			return -1;
	}
	for (int hook = 0; hook < 2; hook++) {
		struct nftnl_rule *r = nft_rule_new(hook ? "pm_output" : "pm_prerouting", "cni-c portmap");
		if (!r)
			return -1;
		uint32_t local = RTN_LOCAL;
		nftr_fib_daddr_type(r, NFT_REG_1);
		nftr_cmp(r, NFT_REG_1, NFT_CMP_EQ, &local, 4);
		nftr_verdict(r, NFT_JUMP, "pm_dnat");
		queue_rule(b, r);
	}
	/* route_localnet guard (CVE-2020-8558 class): nothing from the network
	 * may reach 127.0.0.0/8, be it the host or a port published on it */
	struct nftnl_rule *r = nft_rule_new("pm_guard", "cni-c portmap: route_localnet guard");
	if (!r)
		return -1;
	char lo[IFNAMSIZ] = "lo";
	static const uint8_t m8[4] = { 255 }, net127[4] = { 127 };
	nftr_nfproto(r, NFPROTO_IPV4);
	nftr_meta(r, NFT_META_IIFNAME, NFT_REG_1);
	nftr_cmp(r, NFT_REG_1, NFT_CMP_NEQ, lo, IFNAMSIZ);
	nftr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1);
	nftr_bitwise(r, NFT_REG_1, NFT_REG_1, m8, 4);
	nftr_cmp(r, NFT_REG_1, NFT_CMP_EQ, net127, 4);
	nftr_counter(r);
	nftr_verdict(r, NF_DROP, NULL);
	return queue_rule(b, r);
}

/* Per-network maps and rules for mappings with conditions. */
static int queue_cond_network(struct nft_batch *b, const char *net, int family, const struct pm_cond *c, size_t n)
{
	char n1[NFT_NAME_MAX], n2[NFT_NAME_MAX], comment[300];
	map_names(net, true, family, false, n1);
	map_names(net, true, family, true, n2);
	snprintf(comment, sizeof(comment), "cni-c portmap %s %s", family == AF_INET ? "ipv4" : "ipv6", net);
	if (queue_set(b, map_new(n1, family, false), NLM_F_EXCL) < 0 || queue_set(b, map_new(n2, family, true), 0) < 0 ||
	    queue_rule(b, dnat_rule(n2, family, true, c, n, comment)) < 0 ||
	    queue_rule(b, dnat_rule(n1, family, false, c, n, comment)) < 0)
		return -1;
	return 0;
}

/* A published-port map element (maps pm4/pm6, or pm4h/pm6h with a host
 * address): key [host ip .] proto . port, data ip . port, each field of a
 * concatenation padded to 4 bytes. host NULL: any address. */
static void pm_elem(struct nft_owned *o, int family, const uint8_t *host, uint8_t proto, int hport,
		    const uint8_t *dst, int dport)
{
	size_t alen = family == AF_INET ? 4 : 16;
	uint8_t *k = o->key;
	memset(o->key, 0, sizeof(o->key));
	memset(o->data, 0, sizeof(o->data));
	if (host) {
		memcpy(k, host, alen);
		k += alen;
	}
	k[0] = proto;
	k[4] = (uint8_t)(hport >> 8);
	k[5] = (uint8_t)hport;
	o->keylen = (uint32_t)(k + 8 - o->key);
	memcpy(o->data, dst, alen);
	o->data[alen] = (uint8_t)(dport >> 8);
	o->data[alen + 1] = (uint8_t)dport;
	o->datalen = (uint32_t)alen + 4;
}

/* The elements an attachment owns for this config. */
static int build_entries(const struct cni_call *c, const struct pm_conf *pc, const struct cni_cidr *ip4,
			 const struct cni_cidr *ip6, struct entry **out, size_t *n)
{
	*out = cni_xcalloc(pc->n * 2 + 4, sizeof(**out));
	*n = 0;
	if (!*out)
		return cni_errorf((struct cni_error *)&c->err, CNI_ERR_INTERNAL, "out of memory");
	const struct cni_cidr *ips[2] = { ip4, ip6 };
	for (int f = 0; f < 2; f++) {
		const struct cni_cidr *ip = ips[f];
		if (!ip->ip.family)
			continue;
		int fam = ip->ip.family, alen = cni_ip_len(&ip->ip);
		for (size_t i = 0; i < pc->n; i++) {
			const struct mapping *m = &pc->m[i];
			int hf = m->host_ip.family < 0 ? -m->host_ip.family : m->host_ip.family;
			if (hf && hf != fam)
				continue; /* hostIP of the other family: skipped, as the reference */
			bool hostip = m->host_ip.family > 0;
			struct entry *e = &(*out)[(*n)++];
			e->family = fam;
			e->is_map = true;
			e->m = m;
			map_names(c->net_name, pc->n_cond[f] > 0, fam, hostip, e->o.set);
			pm_elem(&e->o, fam, hostip ? m->host_ip.b : NULL, m->proto, m->host_port, ip->ip.b,
				m->container_port);
		}
		if (pc->snat) {
			struct entry *e = &(*out)[(*n)++];
			e->family = fam;
			snprintf(e->o.set, sizeof(e->o.set), "%s%d", pc->masq_all ? "pmall" : "pmdst", f ? 6 : 4);
			memcpy(e->o.key, ip->ip.b, (size_t)alen);
			e->o.keylen = (uint32_t)alen;
		}
	}
	return 0;
}

static void describe(const struct entry *e, char *buf, size_t len)
{
	char ipb[CNI_IP_STRLEN];
	const struct mapping *m = e->m;
	if (m->host_ip.family > 0)
		snprintf(buf, len, "%s %s%s%s:%d", m->proto_name, e->family == AF_INET6 ? "[" : "",
			 cni_ip_fmt(&m->host_ip, ipb), e->family == AF_INET6 ? "]" : "", m->host_port);
	else
		snprintf(buf, len, "%s %s:%d", m->proto_name, e->family == AF_INET ? "0.0.0.0" : "[::]", m->host_port);
}

static void owner_text(const char *tag, char *buf, size_t len)
{
	char t[NFT_TAG_MAX];
	snprintf(t, sizeof(t), "%s", tag);
	char *a = strchr(t, '/'), *b = a ? strchr(a + 1, '/') : NULL;
	if (t[0] != '#' && a && b) {
		*a = *b = 0;
		snprintf(buf, len, "container %s (interface %s, network %s)", a + 1, b + 1, t);
	} else {
		snprintf(buf, len, "attachment %s", tag);
	}
}

/* ---- route_localnet --------------------------------------------------- */

static int route_oif(const struct cni_ip *dst)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -1;
	int oif = -1;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0) {
		struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
		h->nlmsg_type = RTM_GETROUTE;
		h->nlmsg_flags = NLM_F_REQUEST;
		h->nlmsg_seq = (uint32_t)time(NULL);
		struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof(*rt));
		rt->rtm_family = AF_INET;
		rt->rtm_dst_len = 32;
		mnl_attr_put(h, RTA_DST, 4, dst->b);
		if (mnl_socket_sendto(nl, h, h->nlmsg_len) >= 0) {
			ssize_t r = mnl_socket_recvfrom(nl, buf, sizeof(buf));
			const struct nlmsghdr *rh = (const struct nlmsghdr *)buf;
			if (r > 0 && mnl_nlmsg_ok(rh, (int)r) && rh->nlmsg_type == RTM_NEWROUTE) {
				const struct nlattr *a;
				mnl_attr_for_each(a, rh, sizeof(struct rtmsg))
					if (mnl_attr_get_type(a) == RTA_OIF)
						oif = (int)mnl_attr_get_u32(a);
			}
		}
	}
	mnl_socket_close(nl);
	return oif;
}

static int enable_route_localnet(const struct cni_ip *ip, struct cni_error *err)
{
	char ifn[IF_NAMESIZE], ipb[CNI_IP_STRLEN];
	int oif = route_oif(ip);
	if (oif <= 0 || !if_indextoname((unsigned)oif, ifn))
		return cni_errorf(err, CNI_ERR_NETLINK, "no route to container address %s", cni_ip_fmt(ip, ipb));
	/* Read first, written only when off (once per bridge), through our
	 * private procfs (cni_sysctl_*: no O(netns) /proc/sys lookup). Not a
	 * netlink SETLINK: that takes RTNL, and right after the bridge plugin
	 * the container's IPv6 start-up floods every port from a worker that
	 * holds it; the sysctl read and the route lookup above do not wait. */
	if (cni_sysctl_setf("1", err, "net/ipv4/conf/%s/route_localnet", ifn) < 0)
		return cni_error_wrap(err, "cannot set route_localnet on %s", ifn);
	return 0;
}

/* ---- the host's own connections (include/cni/socklb.h) ------------------ */

/* IPv4 / IPv6 sockets of this netns may bind addresses that are not local:
 * the socket-level path's locality test (a bind) would not hold. */
static bool nonlocal_bind(int family)
{
	char v[16];
	struct cni_error e = { 0 };
	if (cni_sysctl_get(family == AF_INET ? "net/ipv4/ip_nonlocal_bind" : "net/ipv6/ip_nonlocal_bind", v, sizeof(v),
			   &e) < 0)
		return true; /* unknown (IPv6 off): no socket-level path */
	return strcmp(v, "0") != 0;
}

/* The mappings the socket-level path takes, as recorded with the
 * attachment: TCP, no conditions (not evaluated at connect()), no masqAll
 * (its source NAT would be skipped). The rest stays with DNAT alone. The
 * value's spare flag bits carry a hash of the attachment's tag, so that a
 * stale attachment's late DEL cannot withdraw the entry of a later owner
 * that got the same container address and port (lastWriterWins). */
static json_t *lb_ports(const struct pm_conf *pc, const struct entry *ent, size_t n, const char *tag)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *t = tag; *t; t++)
		h = (h ^ (uint8_t)*t) * 16777619u;
	int owner = (int)(h & 0xfffe & ~SOCKLB_LOOPBACK);
	json_t *a = json_array();
	if (!a || pc->masq_all)
		return a;
	int ok[2] = { -1, -1 }; /* v4, v6: not asked yet */
	for (size_t i = 0; i < n; i++) {
		const struct entry *e = &ent[i];
		int f = e->family == AF_INET6;
		if (!e->is_map || e->m->proto != IPPROTO_TCP || pc->n_cond[f])
			continue;
		if (ok[f] < 0)
			ok[f] = !nonlocal_bind(e->family);
		if (!ok[f])
			continue;
		struct cni_ip dst = { .family = e->family };
		memcpy(dst.b, e->o.data, e->family == AF_INET ? 4 : 16);
		char hb[CNI_IP_STRLEN] = "", db[CNI_IP_STRLEN];
		if (e->m->host_ip.family > 0)
			cni_ip_fmt(&e->m->host_ip, hb);
		/* localhost publishing is DNAT + masquerade, there with snat only */
		int flags = (pc->snat && e->family == AF_INET ? SOCKLB_LOOPBACK : 0) | owner;
		json_array_append_new(a, json_pack("{si ss si ss si si}", "family", e->family, "hostIP", hb, "hostPort",
						   e->m->host_port, "ip", cni_ip_fmt(&dst, db), "port",
						   e->m->container_port, "flags", flags));
	}
	return a;
}

static bool lb_port_parse(json_t *o, struct socklb_port *p)
{
	const char *hip = json_string_value(json_object_get(o, "hostIP"));
	const char *dip = json_string_value(json_object_get(o, "ip"));
	struct cni_ip h = { 0 }, d;
	memset(p, 0, sizeof(*p));
	p->family = (int)json_integer_value(json_object_get(o, "family"));
	p->host_port = (uint16_t)json_integer_value(json_object_get(o, "hostPort"));
	p->dst_port = (uint16_t)json_integer_value(json_object_get(o, "port"));
	p->flags = (uint16_t)json_integer_value(json_object_get(o, "flags"));
	if ((p->family != AF_INET && p->family != AF_INET6) || !hip || !dip || cni_ip_parse(dip, &d) < 0 ||
	    d.family != p->family || (*hip && (cni_ip_parse(hip, &h) < 0 || h.family != p->family)))
		return false;
	memcpy(p->dst_ip, d.b, 16);
	if (*hip)
		memcpy(p->host_ip, h.b, 16);
	return true;
}

static bool lb_listed(json_t *list, const struct socklb_port *p)
{
	size_t i;
	json_t *o;
	json_array_foreach(list, i, o) {
		struct socklb_port q;
		if (lb_port_parse(o, &q) && q.family == p->family && q.host_port == p->host_port &&
		    !memcmp(q.host_ip, p->host_ip, 16) && q.dst_port == p->dst_port && !memcmp(q.dst_ip, p->dst_ip, 16) &&
		    q.flags == p->flags)
			return true;
	}
	return false;
}

/* Withdraw what old lists and want does not, publish want. Best effort:
 * where it cannot be done, DNAT (already committed) serves the port. */
static void lb_apply(json_t *want, json_t *old)
{
	if (!json_array_size(want) && !json_array_size(old))
		return;
	struct cni_error e = { 0 };
	struct cni_socklb lb;
	if (cni_socklb_open(&lb, json_array_size(want) > 0, &e) == 1) {
		size_t i;
		json_t *o;
		struct socklb_port p;
		json_array_foreach(old, i, o)
			if (lb_port_parse(o, &p) && !lb_listed(want, &p))
				(void)cni_socklb_del(&lb, &p, &e);
		json_array_foreach(want, i, o)
			if (lb_port_parse(o, &p))
				(void)cni_socklb_put(&lb, &p, &e);
	}
	cni_socklb_close(&lb, true);
}

/* GC: an entry stays while the nft map it accelerates still has it. */
static bool lb_keep(const struct socklb_port *p, void *arg)
{
	struct cni_nft *nft = arg;
	bool any = true;
	size_t alen = p->family == AF_INET ? 4 : 16;
	for (size_t i = 0; i < alen; i++)
		any &= p->host_ip[i] == 0;
	struct nft_owned want;
	pm_elem(&want, p->family, any ? NULL : p->host_ip, IPPROTO_TCP, p->host_port, p->dst_ip, p->dst_port);
	map_names(NULL, false, p->family, !any, want.set);
	struct nft_elem_info info;
	struct cni_error e = { 0 };
	int r = nft_elem_get(nft, want.set, want.key, want.keylen, &info, &e);
	if (r < 0)
		return true; /* not known: kept */
	return r == 1 && !info.expiring && info.datalen == want.datalen && !memcmp(info.data, want.data, want.datalen);
}

/* ---- commands ----------------------------------------------------------- */

static void flush_udp(json_t *udp)
{
	size_t i;
	json_t *v;
	json_array_foreach(udp, i, v) {
		int fam = (int)json_integer_value(json_array_get(v, 0));
		int port = (int)json_integer_value(json_array_get(v, 1));
		struct cni_error e = { 0 };
		if (ct_flush_dport(fam, IPPROTO_UDP, (uint16_t)port, &e) < 0)
			fprintf(stderr, "portmap: %s\n", e.msg); /* as the reference: logged, not fatal */
	}
}

static int do_add(struct cni_call *c, const struct pm_conf *pcp)
{
	struct cni_error *err = &c->err;
	const struct pm_conf pc = *pcp;
	c->result = cni_result_dup(c->prev);
	if (!c->result)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	if (!pc.n)
		return 0; /* nothing to publish: prevResult, nothing touched */
	struct cni_cidr ip4, ip6;
	container_ips(c, &ip4, &ip6);
	_cleanup_free_ struct entry *ent = NULL;
	size_t n_ent = 0;
	if (build_entries(c, &pc, &ip4, &ip6, &ent, &n_ent) < 0)
		return -1;

	char tag[NFT_TAG_MAX], path[4400];
	nft_tag(tag, c->net_name, c->container_id, c->ifname);
	if (nft_record_path(path, sizeof(path), KIND, c->net_name, c->container_id, c->ifname) < 0) 
		return cni_errorf(err, CNI_ERR_INTERNAL, "record path too long");
	_cleanup_close_ int lock = nft_state_lock(KIND, err);
	if (lock < 0)
		return -1;
	_cleanup_nft_ struct cni_nft *nft = cni_nft_open(err);
	if (!nft)
		return -1;

	_cleanup_batch_ struct nft_batch b;
	nftb_init(&b, nft);
	int ex = nft_set_exists(nft, "pm4", err);
	if (ex < 0)
		return -1;
	if (!ex && queue_base(&b) < 0) 
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	bool cond_ex[2] = { true, true };
	for (int f = 0; f < 2; f++) {
		if (!pc.n_cond[f] || !(f ? ip6.ip.family : ip4.ip.family))
			continue;
		char n1[NFT_NAME_MAX];
		map_names(c->net_name, true, f ? AF_INET6 : AF_INET, false, n1);
		int cex = nft_set_exists(nft, n1, err);
		if (cex < 0)
			return -1;
		cond_ex[f] = cex;
		if (!cond_ex[f] && queue_cond_network(&b, c->net_name, f ? AF_INET6 : AF_INET, pc.cond[f], pc.n_cond[f]) < 0) 
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}

	/* an earlier ADD of this attachment: release what is not wanted now */
	_cleanup_free_ struct nft_owned *old = NULL;
	size_t n_old = 0;
	bool present;
	_cleanup_json_ json_t *old_extra = NULL;
	if (nft_record_read(path, &old, &n_old, &old_extra, NULL, NULL, &present, err) < 0)
		return -1;
	for (size_t j = 0; j < n_old; j++) {
		bool keep = false;
		for (size_t i = 0; i < n_ent && !keep; i++)
			keep = !strcmp(old[j].set, ent[i].o.set) && old[j].keylen == ent[i].o.keylen &&
			       !memcmp(old[j].key, ent[i].o.key, old[j].keylen);
		if (!keep && ex && nft_queue_release(nft, &b, &old[j], 1, tag, err) < 0)
			return -1;
	}

	for (size_t i = 0; i < n_ent; i++) {
		struct entry *e = &ent[i];
		bool set_ex = ex && (!pc.n_cond[e->family == AF_INET6] || !e->is_map || cond_ex[e->family == AF_INET6]);
		struct nftnl_set *s = nft_set_ref(e->o.set);
		if (!s) 
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		struct nft_elem_info info;
		int r = set_ex ? nft_elem_get(nft, e->o.set, e->o.key, e->o.keylen, &info, err) : 0;
		bool add = true;
		if (r < 0) {
			nftnl_set_free(s);
			return -1;
		}
		if (r == 1) {
			bool ours = !strcmp(info.tag, tag);
			bool same = info.datalen == e->o.datalen && !memcmp(info.data, e->o.data, e->o.datalen);
			if (ours && !info.expiring && same) {
				add = false;
			} else if (e->is_map && !ours && !info.expiring && !pc.lww) {
				char what[96], who[300];
				describe(e, what, sizeof(what));
				owner_text(info.tag, who, sizeof(who));
				nftnl_set_free(s);
				cni_errorf(err, CNI_ERR_CONFLICT, "port %s is already allocated to %s", what, who);
				return -1;
			} else {
				/* ours but stale/expiring, a stale owner's, or last writer wins */
				nft_elem_add(s, info.key, info.keylen, NULL, NULL, 0, NULL, 0, 0);
				nftb_elems(&b, NFT_MSG_DESTROYSETELEM, s, 0);
				nftnl_set_free(s);
				s = nft_set_ref(e->o.set);
				if (!s) 
					return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			}
		}
		if (add) {
			nft_elem_add(s, e->o.key, e->o.keylen, NULL, e->o.datalen ? e->o.data : NULL, e->o.datalen, tag, 0, 0);
			nftb_elems(&b, NFT_MSG_NEWSETELEM, s, NLM_F_EXCL);
		}
		nftnl_set_free(s);
	}
	/* hairpin sources: the container subnets, and 127.0.0.0/8 for localhost */
	if (pc.snat && !pc.masq_all) {
		struct cni_cidr lo8 = { .ip = { .family = AF_INET, .b = { 127 } }, .prefix = 8 };
		const struct cni_cidr *srcs[3] = { ip4.ip.family ? &ip4 : NULL, ip4.ip.family ? &lo8 : NULL,
						   ip6.ip.family ? &ip6 : NULL };
		for (int i = 0; i < 3; i++) {
			if (!srcs[i])
				continue;
			const char *set = srcs[i]->ip.family == AF_INET ? "pmsrc4" : "pmsrc6";
			struct cni_cidr nw = cni_cidr_network(srcs[i]);
			int r = ex ? nft_elem_get(nft, set, nw.ip.b, (size_t)cni_ip_len(&nw.ip), NULL, err) : 0;
			if (r < 0)
				return -1;
			if (r == 1)
				continue;
			struct nftnl_set *s = nft_set_ref(set);
			if (!s) 
				return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			nft_elem_add_prefix(s, srcs[i]);
			nftb_elems(&b, NFT_MSG_NEWSETELEM, s, 0);
			nftnl_set_free(s);
		}
	}

	/* the record before the commit: a crash must not leave untracked elements */
	_cleanup_free_ struct nft_owned *own = cni_xcalloc(n_ent + n_old, sizeof(*own));
	_cleanup_json_ json_t *extra = json_pack("{s[]so}", "udp", "socklb", lb_ports(&pc, ent, n_ent, tag));
	if (!own || !extra) 
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	size_t n_own = 0;
	for (size_t i = 0; i < n_ent; i++) {
		own[n_own++] = ent[i].o;
		if (ent[i].is_map && ent[i].m->proto == IPPROTO_UDP)
			json_array_append_new(json_object_get(extra, "udp"),
					      json_pack("[ii]", ent[i].family, ent[i].m->host_port));
	}
	for (size_t j = 0; j < n_old; j++)
		own[n_own++] = old[j];
	if (nft_record_write(path, c->container_id, c->ifname, own, n_own, extra, err) < 0)
		return -1;
	if (nftb_commit(&b, NULL, err) < 0) {
		cni_error_wrap(err, "portmap");
		return -1;
	}
	if (n_old && nft_record_write(path, c->container_id, c->ifname, own, n_ent, extra, err) < 0)
		return -1;

	lb_apply(json_object_get(extra, "socklb"), old_extra ? json_object_get(old_extra, "socklb") : NULL);

	if (pc.snat && ip4.ip.family && enable_route_localnet(&ip4.ip, err) < 0)
		return -1;
	flush_udp(json_object_get(extra, "udp"));
	return 0;
}

static int cmd_add(struct cni_call *c)
{
	if (!c->prev)
		return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG, "must be called as chained plugin");
	struct pm_conf pc;
	int ret = parse_conf(c, &pc) < 0 ? -1 : do_add(c, &pc);
	conf_free(&pc);
	return ret;
}

static int cmd_del(struct cni_call *c)
{
	struct cni_error *err = &c->err;
	char tag[NFT_TAG_MAX], path[4400];
	nft_tag(tag, c->net_name, c->container_id, c->ifname);
	if (nft_record_path(path, sizeof(path), KIND, c->net_name, c->container_id, c->ifname) < 0)
		return cni_errorf(err, CNI_ERR_INTERNAL, "record path too long");
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		/* nothing published (or already deleted); a "<path>.tmp" is of an
		 * ADD killed before its commit: nothing of it is in nft */
		cni_file_remove(path);
		return 0;
	}
	_cleanup_close_ int lock = nft_state_lock(KIND, err);
	if (lock < 0)
		return -1;
	_cleanup_free_ struct nft_owned *el = NULL;
	size_t n = 0;
	bool present;
	_cleanup_json_ json_t *extra = NULL;
	if (nft_record_read(path, &el, &n, &extra, NULL, NULL, &present, err) < 0)
		return -1;
	if (!present)
		return 0;
	_cleanup_nft_ struct cni_nft *nft = cni_nft_open(err);
	if (!nft)
		return -1;
	_cleanup_batch_ struct nft_batch b;
	nftb_init(&b, nft);
	if (nft_queue_release(nft, &b, el, n, tag, err) < 0 || nftb_commit(&b, NULL, err) < 0)
		return cni_error_wrap(err, "portmap");
	lb_apply(NULL, json_object_get(extra, "socklb"));
	int r = cni_file_remove(path);
	if (r < 0)
		return cni_errorf_errno(err, CNI_ERR_IO, -r, "cannot remove %s", path);
	/* a re-created container must get UDP traffic at once (issue #123) */
	flush_udp(json_object_get(extra, "udp"));
	return 0;
}

static int do_check(struct cni_call *c, const struct pm_conf *pcp)
{
	struct cni_error *err = &c->err;
	const struct pm_conf pc = *pcp;
	_cleanup_free_ struct entry *ent = NULL;
	size_t n_ent = 0;
	struct cni_cidr ip4, ip6;
	_cleanup_nft_ struct cni_nft *nft = NULL;
	container_ips(c, &ip4, &ip6);
	if (build_entries(c, &pc, &ip4, &ip6, &ent, &n_ent) < 0)
		return -1;
	if (!pc.n)
		return 0;
	nft = cni_nft_open(err);
	if (!nft)
		return -1;
	char tag[NFT_TAG_MAX];
	nft_tag(tag, c->net_name, c->container_id, c->ifname);
	for (size_t i = 0; i < n_ent; i++) {
		struct entry *e = &ent[i];
		struct nft_elem_info info;
		char what[96];
		if (e->is_map)
			describe(e, what, sizeof(what));
		else
			snprintf(what, sizeof(what), "snat for the container address");
		int r = nft_elem_get(nft, e->o.set, e->o.key, e->o.keylen, &info, err);
		if (r < 0)
			return -1;
		if (r == 0 || info.expiring) 
			return cni_errorf(err, CNI_ERR_CHECK_FAILED, "port mapping %s is missing from set inet %s %s", what,
				   CNI_NFT_TABLE, e->o.set);
		if (strcmp(info.tag, tag)) 
			return cni_errorf(err, CNI_ERR_CHECK_FAILED, "port mapping %s belongs to \"%s\"", what, info.tag);
		if (info.datalen != e->o.datalen || memcmp(info.data, e->o.data, e->o.datalen)) 
			return cni_errorf(err, CNI_ERR_CHECK_FAILED, "port mapping %s does not point at the container address",
				   what);
	}
	return 0;
}

static int cmd_check(struct cni_call *c)
{
	if (!c->prev)
		return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG, "must be called as chained plugin");
	struct pm_conf pc;
	int ret = parse_conf(c, &pc) < 0 ? -1 : do_check(c, &pc);
	conf_free(&pc);
	return ret;
}

/* A network without attachments loses its conditional maps and rules. */
static int drop_cond_network(struct cni_nft *nft, const char *net, struct cni_error *err)
{
	char dir[4096];
	if (nft_record_dir(dir, sizeof(dir), KIND, net) == 0 && rmdir(dir) < 0 && errno != ENOENT)
		return 0; /* attachments left */
	_cleanup_batch_ struct nft_batch b;
	nftb_init(&b, nft);
	for (int f = 0; f < 2; f++) {
		int fam = f ? AF_INET6 : AF_INET;
		char n1[NFT_NAME_MAX], n2[NFT_NAME_MAX], comment[300];
		map_names(net, true, fam, false, n1);
		map_names(net, true, fam, true, n2);
		int ex = nft_set_exists(nft, n1, err);
		if (ex < 0)
			return -1;
		if (!ex)
			continue;
		snprintf(comment, sizeof(comment), "cni-c portmap %s %s", f ? "ipv6" : "ipv4", net);
		if (nftb_del_rules_by_comment(&b, "pm_dnat", comment, err) < 0)
			return -1;
		nftb_del_set(&b, n1);
		nftb_del_set(&b, n2);
	}
	return nftb_commit(&b, NULL, err);
}

/* pmsrc4/6 hold hairpin sources: the subnets of containers with snat (and
 * 127.0.0.0/8 for localhost). ADD adds its subnet when no interval covers
 * it yet; the element is shared by every container in it, so DEL leaves
 * it (removing it would need a count or a dump per DEL). GC dumps anyway:
 * it drops each interval no snat container address (pmdst4/6, node-wide)
 * lies in any more, and 127.0.0.0/8 with the last IPv4 one. Runs under
 * the portmap lock, which every ADD that adds to these sets holds too. */
struct keys {
	uint8_t (*k)[16];
	size_t n, cap;
	bool oom;
};

static int collect_key(void *arg, const struct nft_elem_info *e)
{
	struct keys *ks = arg;
	if (e->expiring || e->keylen > 16)
		return 0;
	if (cni_grow((void **)&ks->k, &ks->cap, ks->n, sizeof(*ks->k)) < 0) {
		ks->oom = true;
		return -1;
	}
	memcpy(ks->k[ks->n], e->key, e->keylen); /* grown zeroed: v4 keys padded */
	ks->n++;
	return 0;
}

struct ivals {
	struct keys lo, hi; /* interval starts, and ends (the first address after) */
};

static int collect_ival(void *arg, const struct nft_elem_info *e)
{
	struct ivals *iv = arg;
	return collect_key(e->flags & NFT_SET_ELEM_INTERVAL_END ? &iv->hi : &iv->lo, e);
}

static int key_cmp(const void *a, const void *b) { return memcmp(a, b, 16); }

/* index of the first sorted key > k (strict) or >= k */
static size_t first_after(const struct keys *ks, const uint8_t *k, bool strict)
{
	size_t lo = 0, hi = ks->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(ks->k[mid], k);
		if (c < 0 || (strict && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int prune_hairpin_sources(struct cni_nft *nft, struct cni_error *err)
{
	_cleanup_batch_ struct nft_batch b;
	nftb_init(&b, nft);
	int queued = 0, ret = 0;
	for (int f = 0; f < 2 && ret == 0; f++) {
		const char *src = f ? "pmsrc6" : "pmsrc4", *dst = f ? "pmdst6" : "pmdst4";
		size_t len = f ? 16 : 4;
		struct ivals iv = { 0 };
		struct keys d = { 0 };
		if (nft_elem_dump(nft, src, collect_ival, &iv, err) < 0 || nft_elem_dump(nft, dst, collect_key, &d, err) < 0) {
			ret = -1;
		} else if (iv.lo.oom || iv.hi.oom || d.oom) {
			ret = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		} else {
			if (iv.hi.n)
				qsort(iv.hi.k, iv.hi.n, 16, key_cmp);
			if (d.n)
				qsort(d.k, d.n, 16, key_cmp);
			for (size_t i = 0; i < iv.lo.n; i++) {
				const uint8_t *lo = iv.lo.k[i];
				size_t h = first_after(&iv.hi, lo, true), j = first_after(&d, lo, false);
				const uint8_t *hi = h < iv.hi.n ? iv.hi.k[h] : NULL; /* none: up to the top */
				bool used = !f && lo[0] == 127 ? d.n > 0 : j < d.n && (!hi || key_cmp(d.k[j], hi) < 0);
				if (used)
					continue;
				struct nftnl_set *s = nft_set_ref(src);
				if (!s) {
					ret = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
					break;
				}
				nft_elem_add(s, lo, len, NULL, NULL, 0, NULL, 0, 0);
				if (hi)
					nft_elem_add_end(s, hi, len);
				nftb_elems(&b, NFT_MSG_DESTROYSETELEM, s, 0);
				nftnl_set_free(s);
				queued++;
			}
		}
		free(iv.lo.k);
		free(iv.hi.k);
		free(d.k);
	}
	if (ret < 0 || !queued)
		return ret;
	return nftb_commit(&b, NULL, err);
}

static int cmd_gc(struct cni_call *c)
{
	struct cni_error *err = &c->err;
	struct cni_attachment *valid = NULL;
	size_t n_valid = 0;
	bool present;
	if (cni_gc_valid_attachments(c->conf, &valid, &n_valid, &present, err) < 0)
		return -1;
	int ret = 0;
	if (present) {
		_cleanup_close_ int lock = nft_state_lock(KIND, err);
		_cleanup_nft_ struct cni_nft *nft = lock >= 0 ? cni_nft_open(err) : NULL;
		if (!nft) {
			ret = -1;
		} else {
			char c4[NFT_NAME_MAX], c4h[NFT_NAME_MAX], c6[NFT_NAME_MAX], c6h[NFT_NAME_MAX];
			map_names(c->net_name, true, AF_INET, false, c4);
			map_names(c->net_name, true, AF_INET, true, c4h);
			map_names(c->net_name, true, AF_INET6, false, c6);
			map_names(c->net_name, true, AF_INET6, true, c6h);
			const char *sets[] = { "pm4", "pm4h", "pm6", "pm6h", "pmdst4", "pmdst6", "pmall4", "pmall6",
					       c4, c4h, c6, c6h };
			ret = nft_gc_sets(nft, sets, ARRAY_SIZE(sets), KIND, c->net_name, valid, n_valid, err);
			if (ret == 0)
				ret = drop_cond_network(nft, c->net_name, err);
			if (ret == 0)
				ret = prune_hairpin_sources(nft, err);
			if (ret == 0) {
				struct cni_socklb lb;
				struct cni_error e = { 0 };
				if (cni_socklb_open(&lb, false, &e) == 1)
					(void)cni_socklb_sweep(&lb, lb_keep, nft, &e);
				cni_socklb_close(&lb, true);
			}
		}
	}
	cni_attachments_free(valid, n_valid);
	return ret;
}

static const struct cni_plugin plugin = {
	.name = "portmap",
	.about = "publishes container ports on the host with nftables maps",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
};

int main(int argc, char **argv)
{
	return cni_plugin_main(&plugin, argc, argv);
}
