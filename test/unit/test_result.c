/* Result model: decode/encode for every version, conversions, DNS. */
#include <stdlib.h>

#include "cni/json.h"
#include "cni/result.h"
#include "unit.h"

static json_t *load(const char *s)
{
	return json_loads(s, 0, NULL);
}

static const char *full_1_1 =
	"{\"cniVersion\":\"1.1.0\","
	"\"interfaces\":[{\"name\":\"cni0\",\"mac\":\"aa:bb:cc:dd:ee:01\"},"
	"{\"name\":\"veth1\",\"mac\":\"aa:bb:cc:dd:ee:02\"},"
	"{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:03\",\"mtu\":1400,\"sandbox\":\"/run/netns/x\","
	"\"socketPath\":\"/run/s.sock\",\"pciID\":\"0000:00:01.0\"}],"
	"\"ips\":[{\"interface\":2,\"address\":\"10.1.0.5/24\",\"gateway\":\"10.1.0.1\"},"
	"{\"interface\":2,\"address\":\"10.2.0.5/24\"},"
	"{\"interface\":2,\"address\":\"fd00::5/64\",\"gateway\":\"fd00::1\"}],"
	"\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.1.0.1\",\"mtu\":1300,\"advmss\":1200,\"priority\":10,\"table\":100,\"scope\":0},"
	"{\"dst\":\"::/0\"}],"
	"\"dns\":{\"nameservers\":[\"10.1.0.1\"],\"domain\":\"example\",\"search\":[\"a\",\"b\"],\"options\":[\"ndots:2\"]}}";

TEST(result_decode_1_1_all_fields)
{
	struct cni_error err = { 0 };
	json_t *j = load(full_1_1);
	REQUIRE(j);
	struct cni_result *r = cni_result_decode(j, "1.0.0", &err);
	json_decref(j);
	REQUIRE(r);
	CHECK_INT(r->n_interfaces, 3);
	CHECK_INT(r->interfaces[2].mtu, 1400);
	CHECK_STR(r->interfaces[2].socket_path, "/run/s.sock");
	CHECK_STR(r->interfaces[2].pci_id, "0000:00:01.0");
	CHECK_STR(r->interfaces[2].sandbox, "/run/netns/x");
	CHECK_INT(r->n_ips, 3);
	CHECK_INT(r->ips[0].interface, 2);
	CHECK_INT(r->ips[2].address.ip.family, AF_INET6);
	CHECK(!cni_ip_is_set(&r->ips[1].gateway));
	CHECK_INT(r->n_routes, 2);
	CHECK(r->routes[0].table_set && r->routes[0].table == 100);
	CHECK(r->routes[0].scope_set && r->routes[0].scope == 0);
	CHECK(r->routes[0].mtu == 1300 && r->routes[0].advmss == 1200 && r->routes[0].priority == 10);
	CHECK_INT(r->dns.n_search, 2);
	CHECK_STR(r->dns.domain, "example");
	cni_result_free(r);
}

static char *encode(const struct cni_result *r, const char *v)
{
	struct cni_error err = { 0 };
	json_t *o = cni_result_encode(r, v, &err);
	if (!o)
		return NULL;
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static struct cni_result *decode_str(const char *s, const char *v)
{
	struct cni_error err = { 0 };
	json_t *j = load(s);
	struct cni_result *r = j ? cni_result_decode(j, v, &err) : NULL;
	if (j)
		json_decref(j);
	return r;
}

TEST(result_encode_1_1_roundtrip_is_identity)
{
	struct cni_result *r = decode_str(full_1_1, NULL);
	REQUIRE(r);
	char *s = encode(r, "1.1.0");
	REQUIRE(s);
	json_t *a = load(s), *b = load(full_1_1);
	CHECK(json_equal(a, b));
	if (!json_equal(a, b))
		printf("#   got %s\n", s);
	json_decref(a);
	json_decref(b);
	free(s);
	cni_result_free(r);
}

TEST(result_encode_1_0_drops_1_1_fields)
{
	struct cni_result *r = decode_str(full_1_1, NULL);
	REQUIRE(r);
	char *s = encode(r, "1.0.0");
	REQUIRE(s);
	CHECK(!strstr(s, "\"mtu\":1400"));
	CHECK(!strstr(s, "socketPath"));
	CHECK(!strstr(s, "pciID"));
	CHECK(!strstr(s, "\"version\""));
	CHECK(strstr(s, "\"cniVersion\":\"1.0.0\""));
	free(s);
	cni_result_free(r);
}

TEST(result_encode_0_4_adds_ip_version)
{
	struct cni_result *r = decode_str(full_1_1, NULL);
	REQUIRE(r);
	for (int i = 0; i < 3; i++) {
		const char *v = (const char *[]){ "0.3.0", "0.3.1", "0.4.0" }[i];
		char *s = encode(r, v);
		REQUIRE(s);
		json_t *j = load(s);
		CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(j, "ips"), 0), "version")), "4");
		CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(j, "ips"), 2), "version")), "6");
		CHECK(!strstr(s, "pciID"));
		json_decref(j);
		free(s);
	}
	cni_result_free(r);
}

TEST(result_encode_0_2_first_address_per_family)
{
	struct cni_result *r = decode_str(full_1_1, NULL);
	REQUIRE(r);
	char *s = encode(r, "0.2.0");
	REQUIRE(s);
	json_t *j = load(s);
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "ip4"), "ip")), "10.1.0.5/24");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "ip4"), "gateway")), "10.1.0.1");
	CHECK_STR(json_string_value(json_object_get(json_object_get(j, "ip6"), "ip")), "fd00::5/64");
	CHECK_INT(json_array_size(json_object_get(json_object_get(j, "ip4"), "routes")), 1);
	CHECK_INT(json_array_size(json_object_get(json_object_get(j, "ip6"), "routes")), 1);
	CHECK(!json_object_get(j, "interfaces"));
	CHECK(json_object_get(j, "dns"));
	json_decref(j);
	free(s);
	struct cni_error err = { 0 };
	CHECK(cni_result_check_version_capacity(r, "0.2.0", &err) < 0);
	CHECK_INT(err.code, 1);
	CHECK(strstr(err.msg, "does not support more than 1 address per family"));
	CHECK(cni_result_check_version_capacity(r, "0.3.0", &err) == 0);
	cni_result_free(r);
}

TEST(result_decode_0_2_legacy)
{
	struct cni_result *r = decode_str("{\"cniVersion\":\"0.2.0\",\"ip4\":{\"ip\":\"10.0.0.2/8\",\"gateway\":\"10.0.0.1\","
					  "\"routes\":[{\"dst\":\"0.0.0.0/0\"}]},\"ip6\":{\"ip\":\"fd::2/64\"},"
					  "\"dns\":{\"nameservers\":[\"1.1.1.1\"]}}",
					  NULL);
	REQUIRE(r);
	CHECK_INT(r->n_ips, 2);
	CHECK_INT(r->ips[0].interface, -1);
	CHECK_INT(r->n_routes, 1);
	CHECK_INT(r->dns.n_nameservers, 1);
	char *s = encode(r, "1.0.0");
	REQUIRE(s);
	CHECK(!strstr(s, "\"interface\""));
	CHECK(strstr(s, "\"address\":\"10.0.0.2/8\""));
	free(s);
	cni_result_free(r);
}

TEST(result_decode_uses_config_version_when_missing)
{
	/* a prevResult without cniVersion is decoded in the config's version */
	struct cni_result *r = decode_str("{\"ip4\":{\"ip\":\"10.0.0.2/8\"}}", "0.2.0");
	REQUIRE(r);
	CHECK_INT(r->n_ips, 1);
	cni_result_free(r);
	r = decode_str("{\"ips\":[{\"version\":\"4\",\"address\":\"10.0.0.2/8\"}]}", "0.4.0");
	REQUIRE(r);
	CHECK_INT(r->n_ips, 1);
	cni_result_free(r);
}

TEST(result_decode_errors)
{
	struct cni_error err = { 0 };
	const char *bad[] = {
		"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.2\"}]}",       /* no prefix */
		"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.2/24\",\"gateway\":\"x\"}]}",
		"{\"cniVersion\":\"1.0.0\",\"routes\":[{\"gw\":\"10.0.0.1\"}]}",         /* no dst */
		"{\"cniVersion\":\"1.0.0\",\"interfaces\":{}}",
		"{\"cniVersion\":\"0.4.0\",\"ips\":[{\"version\":\"5\",\"address\":\"10.0.0.2/24\"}]}",
		"[]",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *j = load(bad[i]);
		REQUIRE(j);
		struct cni_result *r = cni_result_decode(j, "1.0.0", &err);
		CHECK(!r);
		CHECK_INT(err.code, 6);
		json_decref(j);
		cni_result_free(r);
	}
	json_t *j = load("{\"cniVersion\":\"7.0.0\"}");
	CHECK(!cni_result_decode(j, NULL, &err));
	CHECK_INT(err.code, 1);
	json_decref(j);
}

TEST(result_dns_empty_handling)
{
	struct cni_result *r = cni_result_new();
	REQUIRE(r);
	char *s = encode(r, "1.0.0");
	CHECK(s && !strstr(s, "dns"));
	free(s);
	s = encode(r, "0.4.0");
	CHECK(s && strstr(s, "\"dns\":{}"));
	free(s);
	cni_result_free(r);
}

TEST(result_dup_is_deep)
{
	struct cni_result *r = decode_str(full_1_1, NULL);
	REQUIRE(r);
	struct cni_result *d = cni_result_dup(r);
	cni_result_free(r);
	REQUIRE(d);
	char *s = encode(d, "1.1.0");
	json_t *a = load(s), *b = load(full_1_1);
	CHECK(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	free(s);
	cni_result_free(d);
}

TEST(version_compare_and_validity)
{
	CHECK(cni_version_cmp("0.3.1", "0.4.0") < 0);
	CHECK(cni_version_cmp("1.1.0", "1.0.0") > 0);
	CHECK(cni_version_cmp("0.10.0", "0.9.0") > 0);
	CHECK_INT(cni_version_cmp("1.0.0", "1.0.0"), 0);
	CHECK_INT(cni_version_cmp("1.0", "1.0.0"), -2);
	CHECK(!cni_version_valid("1.0.0-rc1"));
	CHECK(!cni_version_valid(""));
	CHECK(cni_version_known("0.3.0"));
	CHECK(!cni_version_known("0.5.0"));
}
