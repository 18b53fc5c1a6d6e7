/* Pure helpers of pkg/netlink (no kernel needed). */
#include <stdint.h>

#include "cni/netlink.h"
#include "unit.h"

TEST(mac_parse_and_format)
{
	uint8_t m[6];
	char b[18];
	REQUIRE(cnl_mac_parse("02:aB:cd:EF:00:9f", m) == 0);
	CHECK_STR(cnl_mac_fmt(m, b), "02:ab:cd:ef:00:9f");
	REQUIRE(cnl_mac_parse("02-00-00-00-00-01", m) == 0);
	CHECK_INT(m[5], 1);
	CHECK(cnl_mac_parse("02:00:00:00:00", m) < 0);
	CHECK(cnl_mac_parse("02:00:00:00:00:0g", m) < 0);
	CHECK(cnl_mac_parse("02:00-00:00:00:01", m) < 0);
	CHECK(cnl_mac_parse("0200.0000.0001", m) < 0);
	CHECK(cnl_mac_parse("", m) < 0);
	CHECK(cnl_mac_parse(NULL, m) < 0);
}

TEST(sysctl_keys_are_confined_to_proc_sys)
{
	struct cni_error e = { 0 };
	char buf[32];
	CHECK(cni_sysctl_get("../etc/passwd", buf, sizeof(buf), &e) < 0);
	CHECK_INT(e.code, CNI_ERR_INVALID_CONFIG);
	CHECK(cni_sysctl_get("/etc/passwd", buf, sizeof(buf), &e) < 0);
	CHECK(cni_sysctl_get("", buf, sizeof(buf), &e) < 0);
	e = (struct cni_error){ 0 };
	CHECK(cni_sysctl_get("net/ipv4/no_such_key_cnic", buf, sizeof(buf), &e) < 0);
	CHECK_INT(e.code, CNI_ERR_NOT_FOUND);
}
