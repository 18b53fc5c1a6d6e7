/* Unit tests of pkg/ipam: ranges, iterator, host-local and static
 * configuration, resolv.conf. The store and allocator: test_ipam_store.c. */
#include <arpa/inet.h>
#include <string.h>

#include "cni/ipam.h"
#include "unit.h"

static json_t *J(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	if (!j)
		printf("#   bad test JSON: %s\n", e.text);
	return j;
}

static struct cni_ip IP(const char *s)
{
	struct cni_ip ip;
	cni_ip_parse(s, &ip);
	return ip;
}

static const char *F(const struct cni_ip *ip)
{
	static char b[4][CNI_IP_STRLEN];
	static int i;
	return cni_ip_fmt(ip, b[i++ % 4]);
}

/* Parse a host-local config; returns 0/-1 and leaves the message in err. */
static int hl(const char *conf, const char *version, const char *args_ip, struct ipam_hl_config *c,
	      struct cni_error *err)
{
	/* the config borrows strings (dataDir...) from the JSON: keep the last one */
	static json_t *last;
	if (last)
		json_decref(last);
	json_t *j = last = J(conf);
	if (!j)
		return -2;
	memset(err, 0, sizeof(*err));
	return ipam_hl_config_parse(j, version, args_ip, c, err);
}

#define HL_ERR(conf, version, substr, code_)                                                       \
	do {                                                                                       \
		struct ipam_hl_config c_;                                                           \
		struct cni_error e_;                                                                \
		CHECK(hl(conf, version, NULL, &c_, &e_) == -1);                                     \
		if (!strstr(e_.msg, substr)) {                                                      \
			printf("#   %s:%d: msg \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, e_.msg, substr); \
			(*unit_failed_)++;                                                          \
		}                                                                                   \
		CHECK_INT(e_.code, code_);                                                          \
	} while (0)

TEST(ipam_range_defaults_v4_v6)
{
	struct ipam_hl_config c;
	struct cni_error e;
	REQUIRE(hl("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"}],[{\"subnet\":\"2001:db8:1::/64\"}]]}}",
		   "1.0.0", NULL, &c, &e) == 0);
	REQUIRE(c.n_sets == 2);
	const struct ipam_range *r = &c.sets[0].ranges[0];
	CHECK_STR(F(&r->start), "10.1.2.1");
	CHECK_STR(F(&r->end), "10.1.2.254");
	CHECK_STR(F(&r->gateway), "10.1.2.1");
	r = &c.sets[1].ranges[0];
	CHECK_STR(F(&r->start), "2001:db8:1::1");
	CHECK_STR(F(&r->end), "2001:db8:1:0:ffff:ffff:ffff:ffff");
	CHECK_STR(F(&r->gateway), "2001:db8:1::1");
	CHECK_STR(c.data_dir, IPAM_DEFAULT_DATA_DIR);
	CHECK(c.resolv_conf == NULL);
	ipam_hl_config_free(&c);
}

TEST(ipam_range_explicit_start_end_gateway)
{
	struct ipam_hl_config c;
	struct cni_error e;
	REQUIRE(hl("{\"ipam\":{\"dataDir\":\"/tmp/x\",\"resolvConf\":\"/r\",\"ranges\":[[{\"subnet\":\"10.1.2.0/24\","
		   "\"rangeStart\":\"10.1.2.10\",\"rangeEnd\":\"10.1.2.20\",\"gateway\":\"10.1.2.254\"}]]}}",
		   "1.0.0", NULL, &c, &e) == 0);
	const struct ipam_range *r = &c.sets[0].ranges[0];
	CHECK_STR(F(&r->start), "10.1.2.10");
	CHECK_STR(F(&r->end), "10.1.2.20");
	CHECK_STR(F(&r->gateway), "10.1.2.254");
	CHECK_STR(c.data_dir, "/tmp/x");
	CHECK_STR(c.resolv_conf, "/r");
	struct cni_ip in = IP("10.1.2.15"), before = IP("10.1.2.9"), after = IP("10.1.2.21");
	CHECK(ipam_range_contains(r, &in));
	CHECK(!ipam_range_contains(r, &before));
	CHECK(!ipam_range_contains(r, &after));
	char buf[256];
	CHECK_STR(ipam_range_set_fmt(&c.sets[0], buf, sizeof(buf)), "10.1.2.10-10.1.2.20");
	ipam_hl_config_free(&c);
}

TEST(ipam_config_errors)
{
	HL_ERR("{\"name\":\"x\"}", "1.0.0", "IPAM config missing 'ipam' key", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{}}", "1.0.0", "no IP ranges specified", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/31\"}]]}}", "1.0.0",
	       "invalid range set 0: Network 10.1.2.0/31 too small to allocate from", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/32\"}]]}}", "1.0.0", "too small", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"2001:db8::/127\"}]]}}", "1.0.0", "too small",
	       CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.5/24\"}]]}}", "1.0.0",
	       "Network has host bits set. For a subnet mask of length 24 the network address is 10.1.2.0",
	       CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\",\"rangeStart\":\"10.1.3.1\"}]]}}", "1.0.0",
	       "RangeStart 10.1.3.1 not in network 10.1.2.0/24", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\",\"rangeEnd\":\"10.1.3.1\"}]]}}", "1.0.0",
	       "RangeEnd 10.1.3.1 not in network 10.1.2.0/24", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\",\"rangeStart\":\"10.1.2.50\",\"rangeEnd\":\"10.1.2.40\"}]]}}",
	       "1.0.0", "RangeEnd 10.1.2.40 not in network", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[]]}}", "1.0.0", "invalid range set 0: empty range set", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"},{\"subnet\":\"2001:db8::/64\"}]]}}", "1.0.0",
	       "invalid range set 0: mixed address families", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.0.0/16\"},{\"subnet\":\"10.1.2.0/24\"}]]}}", "1.0.0",
	       "invalid range set 0: subnets 10.1.0.1-10.1.255.254 and 10.1.2.1-10.1.2.254 overlap",
	       CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"}],[{\"subnet\":\"10.1.2.0/25\"}]]}}", "1.0.0",
	       "range set 0 overlaps with 1", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"}],[{\"subnet\":\"10.1.3.0/24\"}]]}}", "0.2.0",
	       "CNI version 0.2.0 does not support more than 1 address per family", CNI_ERR_INCOMPATIBLE_VERSION);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"banana\"}]]}}", "1.0.0", "subnet", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\",\"gateway\":\"x\"}]]}}", "1.0.0", "gateway",
	       CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":{}}}", "1.0.0", "ranges", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"}]],\"routes\":[{\"dst\":\"nope\"}]}}", "1.0.0",
	       "invalid route 0", CNI_ERR_INVALID_CONFIG);
	HL_ERR("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"}]]},\"args\":{\"cni\":{\"ips\":[\"zzz\"]}}}", "1.0.0",
	       "cannot understand ip", CNI_ERR_INVALID_CONFIG);
	/* two v4 sets with 0.3.0 are fine */
	struct ipam_hl_config c;
	struct cni_error e;
	CHECK(hl("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"}],[{\"subnet\":\"10.1.3.0/24\"}]]}}", "0.3.0", NULL,
		 &c, &e) == 0);
	ipam_hl_config_free(&c);
}

TEST(ipam_config_legacy_ranges_and_ipranges_order)
{
	struct ipam_hl_config c;
	struct cni_error e;
	REQUIRE(hl("{\"runtimeConfig\":{\"ipRanges\":[[{\"subnet\":\"10.9.0.0/24\"}]]},"
		   "\"ipam\":{\"subnet\":\"10.1.0.0/24\",\"rangeStart\":\"10.1.0.5\",\"gateway\":\"10.1.0.254\","
		   "\"ranges\":[[{\"subnet\":\"10.2.0.0/24\"},{\"subnet\":\"10.3.0.0/24\"}],[{\"subnet\":\"2001:db8::/64\"}]],"
		   "\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"10.0.0.0/8\",\"gw\":\"10.1.0.1\",\"priority\":5}]}}",
		   "1.0.0", NULL, &c, &e) == 0);
	REQUIRE(c.n_sets == 4);
	CHECK_STR(F(&c.sets[0].ranges[0].subnet.ip), "10.9.0.0"); /* runtimeConfig.ipRanges first */
	CHECK_STR(F(&c.sets[1].ranges[0].subnet.ip), "10.1.0.0"); /* then the legacy range */
	CHECK_STR(F(&c.sets[1].ranges[0].start), "10.1.0.5");
	CHECK_STR(F(&c.sets[1].ranges[0].gateway), "10.1.0.254");
	CHECK_INT(c.sets[2].n, 2);
	CHECK_STR(F(&c.sets[3].ranges[0].subnet.ip), "2001:db8::");
	REQUIRE(c.n_routes == 2);
	CHECK(!cni_ip_is_set(&c.routes[0].gw));
	CHECK_STR(F(&c.routes[1].gw), "10.1.0.1");
	CHECK(c.routes[1].priority_set && c.routes[1].priority == 5);
	ipam_hl_config_free(&c);
}

TEST(ipam_config_requested_ips_order)
{
	struct ipam_hl_config c;
	struct cni_error e;
	REQUIRE(hl("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"}]]},"
		   "\"args\":{\"cni\":{\"ips\":[\"10.1.2.20/24\",\"2001:db8::9\"]}},"
		   "\"runtimeConfig\":{\"ips\":[\"10.1.2.30\"]}}",
		   "1.0.0", "10.1.2.10/24", &c, &e) == 0);
	REQUIRE(c.n_requested == 4);
	CHECK_STR(F(&c.requested[0]), "10.1.2.10");
	CHECK_STR(F(&c.requested[1]), "10.1.2.20");
	CHECK_STR(F(&c.requested[2]), "2001:db8::9");
	CHECK_STR(F(&c.requested[3]), "10.1.2.30");
	ipam_hl_config_free(&c);
	CHECK(hl("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"}]]}}", "1.0.0", "nope", &c, &e) == -1);
	CHECK(strstr(e.msg, "cannot understand ip") != NULL);
}

/* Walk a set from `last` and return the candidates as "a,b,c". */
static void walk(const struct ipam_range_set *s, const char *last, char *out, size_t len, int max)
{
	struct ipam_iter it;
	struct cni_ip l = { 0 }, ip;
	if (last)
		l = IP(last);
	ipam_iter_init(&it, s, last ? &l : NULL);
	size_t off = 0;
	out[0] = '\0';
	for (int i = 0; i < max && ipam_iter_next(&it, &ip, NULL); i++)
		off += (size_t)snprintf(out + off, len - off, "%s%s", off ? "," : "", F(&ip));
}

TEST(ipam_iterator_round_robin_wrap_gateway)
{
	struct ipam_hl_config c;
	struct cni_error e;
	REQUIRE(hl("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/29\"},"
		   "{\"subnet\":\"10.1.3.0/29\",\"rangeStart\":\"10.1.3.2\",\"rangeEnd\":\"10.1.3.4\",\"gateway\":\"10.1.3.3\"}]]}}",
		   "1.0.0", NULL, &c, &e) == 0);
	char buf[512];
	/* fresh: start at rangeStart .1 = gateway, skipped; all of both ranges once */
	walk(&c.sets[0], NULL, buf, sizeof(buf), 100);
	CHECK_STR(buf, "10.1.2.2,10.1.2.3,10.1.2.4,10.1.2.5,10.1.2.6,10.1.3.2,10.1.3.4");
	/* from the last reserved: last+1 on, across the ranges, around, up to last */
	walk(&c.sets[0], "10.1.2.4", buf, sizeof(buf), 100);
	CHECK_STR(buf, "10.1.2.5,10.1.2.6,10.1.3.2,10.1.3.4,10.1.2.2,10.1.2.3,10.1.2.4");
	/* last at the end of the last range wraps to the first range */
	walk(&c.sets[0], "10.1.3.4", buf, sizeof(buf), 100);
	CHECK_STR(buf, "10.1.2.2,10.1.2.3,10.1.2.4,10.1.2.5,10.1.2.6,10.1.3.2,10.1.3.4");
	/* last outside the set: as if fresh */
	walk(&c.sets[0], "192.168.0.1", buf, sizeof(buf), 100);
	CHECK_STR(buf, "10.1.2.2,10.1.2.3,10.1.2.4,10.1.2.5,10.1.2.6,10.1.3.2,10.1.3.4");
	ipam_hl_config_free(&c);

	REQUIRE(hl("{\"ipam\":{\"ranges\":[[{\"subnet\":\"2001:db8::/120\"}]]}}", "1.0.0", NULL, &c, &e) == 0);
	walk(&c.sets[0], "2001:db8::fe", buf, sizeof(buf), 3);
	CHECK_STR(buf, "2001:db8::ff,2001:db8::2,2001:db8::3");
	ipam_hl_config_free(&c);
}

TEST(ipam_range_set_find_and_canon)
{
	struct ipam_hl_config c;
	struct cni_error e;
	REQUIRE(hl("{\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.2.0/24\",\"rangeEnd\":\"10.1.2.100\"},{\"subnet\":\"10.1.4.0/24\"}]]}}",
		   "1.0.0", NULL, &c, &e) == 0);
	struct cni_ip a = IP("10.1.4.7"), b = IP("10.1.2.101"), m = IP("::ffff:10.1.2.7");
	CHECK(ipam_range_set_find(&c.sets[0], &a) == &c.sets[0].ranges[1]);
	CHECK(ipam_range_set_find(&c.sets[0], &b) == NULL);
	CHECK(ipam_range_set_find(&c.sets[0], &m) == &c.sets[0].ranges[0]);
	ipam_ip_canon(&m);
	CHECK_INT(m.family, AF_INET);
	CHECK_STR(F(&m), "10.1.2.7");
	ipam_hl_config_free(&c);
}

TEST(ipam_resolv_conf_parse)
{
	const char *txt = "# comment\n; also comment\nnameserver 10.0.0.1\nnameserver   2001:db8::53 extra\n"
			  "domain one.example\ndomain two.example\nsearch a.example b.example\n"
			  "search c.example\noptions ndots:5 edns0\n  \nnameserver\nbogus line here\n";
	struct cni_dns d;
	struct cni_error e = { 0 };
	REQUIRE(ipam_resolv_conf_parse_buf(txt, strlen(txt), &d, &e) == 0);
	REQUIRE(d.n_nameservers == 2);
	CHECK_STR(d.nameservers[0], "10.0.0.1");
	CHECK_STR(d.nameservers[1], "2001:db8::53");
	CHECK_STR(d.domain, "two.example");
	REQUIRE(d.n_search == 3);
	CHECK_STR(d.search[2], "c.example");
	REQUIRE(d.n_options == 2);
	CHECK_STR(d.options[0], "ndots:5");
	cni_dns_free(&d);
	CHECK(ipam_resolv_conf_parse("/nonexistent/resolv.conf", &d, &e) == -1);
	CHECK(strstr(e.msg, "/nonexistent/resolv.conf") != NULL);
}

static int st(const char *conf, const char *version, const char *ip, const char *gw, struct ipam_static_config *c,
	      struct cni_error *err)
{
	json_t *j = J(conf);
	memset(err, 0, sizeof(*err));
	int r = ipam_static_config_parse(j, version, ip, gw, c, err);
	json_decref(j);
	return r;
}

TEST(ipam_static_precedence)
{
	struct ipam_static_config c;
	struct cni_error e;
	char b[CNI_CIDR_STRLEN];
	const char *base = "{\"ipam\":{\"addresses\":[{\"address\":\"10.0.0.5/24\",\"gateway\":\"10.0.0.1\"},"
			   "{\"address\":\"2001:db8::5/64\"}],"
			   "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.0.0.1\"},{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.0.0.2\"}],"
			   "\"dns\":{\"nameservers\":[\"1.1.1.1\"],\"search\":[\"x\"]}}";
	char conf[1024];
	/* config + CNI_ARGS appended, GATEWAY applied to the subnet that holds it */
	snprintf(conf, sizeof(conf), "%s}", base);
	REQUIRE(st(conf, "1.0.0", "10.1.0.7/16, 10.2.0.8/16", "10.1.0.1,2001:db8::1", &c, &e) == 0);
	REQUIRE(c.n_addrs == 4);
	CHECK_STR(cni_cidr_fmt(&c.addrs[0].address, b), "10.0.0.5/24");
	CHECK_STR(F(&c.addrs[0].gateway), "10.0.0.1");
	CHECK_STR(F(&c.addrs[1].gateway), "2001:db8::1");
	CHECK_STR(cni_cidr_fmt(&c.addrs[2].address, b), "10.1.0.7/16");
	CHECK_STR(F(&c.addrs[2].gateway), "10.1.0.1");
	CHECK(!cni_ip_is_set(&c.addrs[3].gateway));
	CHECK_INT(c.n_routes, 2); /* ECMP: both default routes kept */
	CHECK_INT(c.dns.n_nameservers, 1);
	ipam_static_config_free(&c);
	/* args.cni.ips replaces */
	snprintf(conf, sizeof(conf), "%s,\"args\":{\"cni\":{\"ips\":[\"10.5.0.5/24\"]}}}", base);
	REQUIRE(st(conf, "1.0.0", "10.1.0.7/16", NULL, &c, &e) == 0);
	REQUIRE(c.n_addrs == 1);
	CHECK_STR(cni_cidr_fmt(&c.addrs[0].address, b), "10.5.0.5/24");
	ipam_static_config_free(&c);
	/* runtimeConfig.ips wins over args */
	snprintf(conf, sizeof(conf),
		 "%s,\"args\":{\"cni\":{\"ips\":[\"10.5.0.5/24\"]}},\"runtimeConfig\":{\"ips\":[\"10.6.0.6/24\",\"10.7.0.7/24\"]}}",
		 base);
	REQUIRE(st(conf, "1.0.0", NULL, NULL, &c, &e) == 0);
	REQUIRE(c.n_addrs == 2);
	CHECK_STR(cni_cidr_fmt(&c.addrs[1].address, b), "10.7.0.7/24");
	ipam_static_config_free(&c);
	/* ...and with 0.2.0 two v4 addresses are refused */
	CHECK(st(conf, "0.2.0", NULL, NULL, &c, &e) == -1);
	CHECK(strstr(e.msg, "does not support more than 1 address per family") != NULL);
}

TEST(ipam_static_errors)
{
	struct ipam_static_config c;
	struct cni_error e;
	CHECK(st("{\"ipam\":{\"addresses\":[{\"address\":\"10.0.0.5\"}]}}", "1.0.0", NULL, NULL, &c, &e) == -1);
	CHECK_STR(e.msg, "the 'address' field is expected to be in CIDR notation, got: '10.0.0.5'");
	CHECK(st("{\"ipam\":{}}", "1.0.0", "10.0.0.5", NULL, &c, &e) == -1);
	CHECK_STR(e.msg, "the 'ip' field is expected to be in CIDR notation, got: '10.0.0.5'");
	CHECK(st("{\"ipam\":{}}", "1.0.0", "10.0.0.5/24", "nope", &c, &e) == -1);
	CHECK_STR(e.msg, "invalid gateway address: nope");
	CHECK(st("{\"ipam\":{},\"runtimeConfig\":{\"ips\":[\"1.2.3.4\"]}}", "1.0.0", NULL, NULL, &c, &e) == -1);
	CHECK_STR(e.msg, "an entry in the 'ips' field is NOT in CIDR notation, got: '1.2.3.4'");
	CHECK(st("{\"name\":\"n\"}", "1.0.0", NULL, NULL, &c, &e) == -1);
	CHECK_STR(e.msg, "IPAM config missing 'ipam' key");
	CHECK(st("{\"ipam\":{}}", "1.0.0", NULL, NULL, &c, &e) == 0);
	CHECK_INT(c.n_addrs, 0);
	ipam_static_config_free(&c);
}
