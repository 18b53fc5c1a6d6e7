/* Pure helpers of pkg/netlink (no kernel needed). */
#include <stdint.h>

#include "cni/netlink.h"
#include <stdio.h>
#include <string.h>

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

/* net/ keys go through a private procfs instance (or the cached
 * /proc/sys/net/<family> dir): they must read what /proc/sys shows */
static void proc_read(const char *path, char *buf, size_t len)
{
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

TEST(sysctl_net_keys_read_what_proc_sys_shows)
{
	const char *keys[] = { "net/ipv4/ip_forward", "net/ipv4/conf/lo/arp_notify", "net/ipv6/conf/lo/mtu",
			       "net/core/somaxconn", "kernel/ostype" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char want[64], got[64], path[128];
		snprintf(path, sizeof(path), "/proc/sys/%s", keys[i]);
		proc_read(path, want, sizeof(want));
		if (!want[0])
			continue; /* no IPv6 here */
		struct cni_error e = { 0 };
		CHECK(cni_sysctl_get(keys[i], got, sizeof(got), &e) == 0);
		CHECK_STR(got, want);
		/* twice: the second read reuses the cached root */
		CHECK(cni_sysctl_get(keys[i], got, sizeof(got), &e) == 0);
		CHECK_STR(got, want);
	}
}
