/* IP helpers, CNI_ARGS parsing, name validation, JSON getters, GC lists. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni/json.h"
#include "cni/plugin.h"
#include "unit.h"

TEST(ip_parse_format)
{
	struct cni_ip ip;
	char b[CNI_IP_STRLEN];
	CHECK(cni_ip_parse("10.1.2.3", &ip) == 0 && ip.family == AF_INET);
	CHECK_STR(cni_ip_fmt(&ip, b), "10.1.2.3");
	CHECK(cni_ip_parse("2001:db8::1", &ip) == 0 && ip.family == AF_INET6);
	CHECK_STR(cni_ip_fmt(&ip, b), "2001:db8::1");
	CHECK(cni_ip_parse("10.1.2", &ip) < 0);
	CHECK(cni_ip_parse("", &ip) < 0);
	CHECK(cni_ip_parse("10.1.2.3/24", &ip) < 0);
	struct cni_cidr c;
	CHECK(cni_cidr_parse("10.1.2.3/24", &c) == 0 && c.prefix == 24);
	CHECK(cni_cidr_parse("10.1.2.3", &c) < 0);
	CHECK(cni_cidr_parse("10.1.2.3/33", &c) < 0);
	CHECK(cni_cidr_parse("fd00::/129", &c) < 0);
	CHECK(cni_cidr_parse("10.1.2.3/", &c) < 0);
	CHECK(cni_cidr_parse("10.1.2.3/2x", &c) < 0);
	bool had;
	CHECK(cni_ip_or_cidr_parse("10.1.2.3", &c, &had) == 0 && !had && c.prefix == 32);
}

TEST(ip_arith)
{
	struct cni_cidr c;
	char b[CNI_IP_STRLEN];
	REQUIRE(cni_cidr_parse("10.1.2.77/24", &c) == 0);
	CHECK(cni_cidr_has_host_bits(&c));
	struct cni_cidr n = cni_cidr_network(&c);
	CHECK_STR(cni_ip_fmt(&n.ip, b), "10.1.2.0");
	struct cni_ip last = cni_cidr_last(&c);
	CHECK_STR(cni_ip_fmt(&last, b), "10.1.2.255");
	struct cni_ip x = cni_ip_next(&last);
	CHECK_STR(cni_ip_fmt(&x, b), "10.1.3.0");
	x = cni_ip_prev(&x);
	CHECK_STR(cni_ip_fmt(&x, b), "10.1.2.255");
	CHECK(cni_cidr_contains(&c, &last));
	CHECK(!cni_cidr_contains(&c, &(struct cni_ip){ AF_INET, { 10, 1, 3, 0 } }));
	struct cni_cidr d;
	REQUIRE(cni_cidr_parse("10.1.0.0/16", &d) == 0);
	CHECK(cni_cidr_overlap(&c, &d));
	REQUIRE(cni_cidr_parse("fd00::ff/120", &c) == 0);
	last = cni_cidr_last(&c);
	CHECK_STR(cni_ip_fmt(&last, b), "fd00::ff");
	x = cni_ip_next(&last);
	CHECK_STR(cni_ip_fmt(&x, b), "fd00::100");
	CHECK(cni_ip_is_loopback(&(struct cni_ip){ AF_INET, { 127, 0, 0, 9 } }));
}

TEST(cni_args_parsing)
{
	struct cni_arg *a;
	size_t n;
	struct cni_error err = { 0 };
	REQUIRE(cni_args_parse("IP=10.0.0.2;MAC=aa:bb;IgnoreUnknown=1", &a, &n, &err) == 0);
	CHECK_INT(n, 3);
	CHECK_STR(a[1].key, "MAC");
	CHECK_STR(a[1].value, "aa:bb");
	cni_args_free(a, n);
	REQUIRE(cni_args_parse("", &a, &n, &err) == 0);
	CHECK_INT(n, 0);
	CHECK(cni_args_parse("IP", &a, &n, &err) < 0);
	CHECK_INT(err.code, 4);
	CHECK(strstr(err.msg, "CNI_ARGS"));
	CHECK(cni_args_parse("A=1;", &a, &n, &err) < 0);
	CHECK(cni_args_parse("A=1=2", &a, &n, &err) < 0);
	REQUIRE(cni_args_parse("A=", &a, &n, &err) == 0);
	CHECK_STR(a[0].value, "");
	cni_args_free(a, n);
}

TEST(name_validation)
{
	struct cni_error err = { 0 };
	CHECK(cni_validate_container_id("abc-1.2_x", &err) == 0);
	CHECK(cni_validate_container_id("-abc", &err) < 0 && err.code == 4);
	CHECK(cni_validate_container_id("a/b", &err) < 0);
	CHECK(cni_validate_container_id("", &err) < 0);
	CHECK(cni_validate_ifname("eth0", &err) == 0);
	CHECK(cni_validate_ifname("123456789012345", &err) == 0);
	CHECK(cni_validate_ifname("1234567890123456", &err) < 0 && err.code == 4);
	CHECK(cni_validate_ifname(".", &err) < 0);
	CHECK(cni_validate_ifname("..", &err) < 0);
	CHECK(cni_validate_ifname("a b", &err) < 0);
	CHECK(cni_validate_ifname("a\tb", &err) < 0);
	CHECK(cni_validate_ifname("a:b", &err) < 0);
	CHECK(cni_validate_net_name("", &err) < 0 && err.code == 7);
	CHECK(cni_validate_net_name("my net", &err) < 0 && err.code == 7);
}

TEST(json_go_semantics)
{
	json_t *o = json_loads("{\"IsGateway\":true,\"mtu\":1400,\"bad\":\"true\",\"n\":null,\"f\":1.5}", 0, NULL);
	REQUIRE(o);
	struct cni_error err = { 0 };
	bool b = false;
	CHECK(cj_bool(o, "isGateway", &b, &err) == 0 && b);
	long long x = 7;
	CHECK(cj_int(o, "MTU", &x, &err) == 0 && x == 1400);
	x = 7;
	CHECK(cj_int(o, "n", &x, &err) == 0 && x == 7); /* null keeps the default */
	CHECK(cj_int(o, "absent", &x, &err) == 0 && x == 7);
	CHECK(cj_bool(o, "bad", &b, &err) < 0);
	CHECK_INT(err.code, 7);
	CHECK(strstr(err.msg, "\"bad\""));
	CHECK(cj_int(o, "f", &x, &err) < 0);
	CHECK(cj_int_range(o, "mtu", 0, 1000, &x, &err) < 0);
	CHECK(strstr(err.msg, "1400"));
	json_decref(o);
}

TEST(gc_valid_attachments)
{
	struct cni_error err = { 0 };
	struct cni_attachment *a;
	size_t n;
	bool present;
	json_t *o = json_loads("{\"cni.dev/attachments\":[{\"containerID\":\"c1\",\"ifname\":\"eth0\"}]}", 0, NULL);
	REQUIRE(cni_gc_valid_attachments(o, &a, &n, &present, &err) == 0);
	CHECK(present);
	CHECK_INT(n, 1);
	CHECK(cni_attachment_valid(a, n, "c1", "eth0"));
	CHECK(!cni_attachment_valid(a, n, "c1", "eth1"));
	cni_attachments_free(a, n);
	json_decref(o);
	o = json_loads("{\"cni.dev/valid-attachments\":[]}", 0, NULL);
	REQUIRE(cni_gc_valid_attachments(o, &a, &n, &present, &err) == 0);
	CHECK(present && n == 0);
	cni_attachments_free(a, n);
	json_decref(o);
	o = json_loads("{}", 0, NULL);
	REQUIRE(cni_gc_valid_attachments(o, &a, &n, &present, &err) == 0);
	CHECK(!present);
	json_decref(o);
	o = json_loads("{\"cni.dev/valid-attachments\":[{\"containerID\":1}]}", 0, NULL);
	CHECK(cni_gc_valid_attachments(o, &a, &n, &present, &err) < 0);
	json_decref(o);
}

TEST(error_object_shape)
{
	struct cni_error e = { 0 };
	cni_errorf(&e, 104, "no IP addresses available in range set: %s", "10.0.0.2-10.0.0.3");
	cni_error_set_details(&e, "more");
	int p[2];
	REQUIRE(pipe(p) == 0);
	cni_print_error(p[1], &e, "0.4.0");
	close(p[1]);
	char buf[1024] = { 0 };
	ssize_t r = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	REQUIRE(r > 0);
	json_t *j = json_loads(buf, 0, NULL);
	REQUIRE(j);
	CHECK_STR(json_string_value(json_object_get(j, "cniVersion")), "0.4.0");
	CHECK_INT(json_integer_value(json_object_get(j, "code")), 104);
	CHECK_STR(json_string_value(json_object_get(j, "details")), "more");
	json_decref(j);
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

TEST(file_replace_and_remove)
{
	char dir[] = "/tmp/cnic-file-XXXXXX", path[128], tmp[160];
	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/rec", dir);
	REQUIRE(cni_file_tmp_name(tmp, sizeof(tmp), path) == 0);
	CHECK_INT(cni_file_replace(path, "one", 3, true, 0600), 0);
	CHECK_STR(slurp(path), "one");
	CHECK(access(tmp, F_OK) < 0); /* no temporary name left behind */
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	/* a crash's leftover under the temporary name is replaced, not an error */
	FILE *f = fopen(tmp, "w");
	REQUIRE(f);
	fputs("partial", f);
	fclose(f);
	CHECK_INT(cni_file_replace(path, "two", 3, false, 0600), 0);
	CHECK_STR(slurp(path), "two");
	CHECK(access(tmp, F_OK) < 0);
	/* remove takes a leftover temporary with the file, and is idempotent */
	f = fopen(tmp, "w");
	REQUIRE(f);
	fclose(f);
	CHECK_INT(cni_file_remove(path), 0);
	CHECK(access(path, F_OK) < 0 && access(tmp, F_OK) < 0);
	CHECK_INT(cni_file_remove(path), 0);
	/* a directory that is not there */
	char bad[160];
	snprintf(bad, sizeof(bad), "%s/missing/rec", dir);
	CHECK_INT(cni_file_replace(bad, "x", 1, false, 0600), -ENOENT);
	CHECK(rmdir(dir) == 0); /* nothing else was created */
}

/* pattern, subject, expected: 1 match, 0 no match */
static int re_match(const char *pat, const char *s)
{
	const char *why = NULL;
	struct cni_regex *re = cni_regex_compile(pat, &why);
	if (!re) {
		printf("#   pattern \"%s\" refused: %s\n", pat, why);
		return -1;
	}
	int r = cni_regex_search(re, s);
	cni_regex_free(re);
	return r;
}

TEST(regex_allowlist_subset)
{
	/* the reference's documented allowlist shapes */
	CHECK_INT(re_match("^net\\.ipv4\\.conf\\.IFNAME\\.[a-z_]*$", "net.ipv4.conf.IFNAME.arp_filter"), 1);
	CHECK_INT(re_match("^net\\.ipv4\\.conf\\.IFNAME\\.[a-z_]*$", "net.ipv4.conf.eth0.arp_filter"), 0);
	CHECK_INT(re_match("^net\\.ipv4\\.conf\\.IFNAME\\.[a-z_]*$", "net.ipv4.conf.IFNAME.x.y"), 0);
	CHECK_INT(re_match("^net\\.ipv4\\.ping_group_range$", "net.ipv4.ping_group_range"), 1);
	CHECK_INT(re_match("^net\\.ipv4\\.ping_group_range$", "net.ipv4.ping_group_rangeX"), 0);
	/* unanchored search, as Go's MatchString */
	CHECK_INT(re_match("ipv6", "net.ipv6.conf.all.forwarding"), 1);
	CHECK_INT(re_match("ipv6$", "net.ipv6.conf"), 0);
	CHECK_INT(re_match("", "anything"), 1);
	/* . escapes, classes, negation, perl classes, posix classes */
	CHECK_INT(re_match("^a.c$", "abc"), 1);
	CHECK_INT(re_match("^a\\.c$", "abc"), 0);
	CHECK_INT(re_match("^[^0-9]+$", "abc"), 1);
	CHECK_INT(re_match("^[^0-9]+$", "ab1"), 0);
	CHECK_INT(re_match("^\\d{2,3}$", "12"), 1);
	CHECK_INT(re_match("^\\d{2,3}$", "1234"), 0);
	CHECK_INT(re_match("^\\d{2}$", "1"), 0);
	CHECK_INT(re_match("^\\w+\\s\\S$", "a_1 x"), 1);
	CHECK_INT(re_match("^[[:alpha:]_]+$", "ab_c"), 1);
	CHECK_INT(re_match("^[[:alpha:]_]+$", "ab-c"), 0);
	CHECK_INT(re_match("^[a\\-z]+$", "a-z"), 1);
	CHECK_INT(re_match("^[]a]+$", "]a"), 1);
	/* groups, alternation, repetition of groups, lazy */
	CHECK_INT(re_match("^net\\.(ipv4|ipv6)\\.conf\\.(all|default)\\.forwarding$", "net.ipv6.conf.default.forwarding"), 1);
	CHECK_INT(re_match("^net\\.(ipv4|ipv6)\\.conf\\.(all|default)\\.forwarding$", "net.ipv5.conf.all.forwarding"), 0);
	CHECK_INT(re_match("^(?:ab)+$", "ababab"), 1);
	CHECK_INT(re_match("^(?:ab)+$", "ababa"), 0);
	CHECK_INT(re_match("^(a|ab)(c|bcd)$", "abcd"), 1);
	CHECK_INT(re_match("^(a*)*$", "aaaa"), 1);
	CHECK_INT(re_match("^(a*)*b$", "aaaa"), 0);
	CHECK_INT(re_match("^a+?b$", "aaab"), 1);
	CHECK_INT(re_match("^x{2,}$", "xxxxx"), 1);
	CHECK_INT(re_match("^a{,2}$", "a{,2}"), 1); /* not a repeat: literal, as RE2 */
	CHECK_INT(re_match("^(a|)$", ""), 1);
	/* a pathological pattern ends on the step budget instead of hanging */
	CHECK_INT(re_match("^(a|a)*b$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 0);
	/* refused, with a reason */
	const char *why = NULL;
	CHECK(!cni_regex_compile("a**", &why) && why);
	CHECK(!cni_regex_compile("(ab", &why) && why);
	CHECK(!cni_regex_compile("ab)", &why) && why);
	CHECK(!cni_regex_compile("[ab", &why) && why);
	CHECK(!cni_regex_compile("\\1", &why) && why);
	CHECK(!cni_regex_compile("\\bword", &why) && why);
	CHECK(!cni_regex_compile("(?i)x", &why) && why);
	CHECK(!cni_regex_compile("*a", &why) && why);
	CHECK(!cni_regex_compile("a{3,2}", &why) && why);
	CHECK(!cni_regex_compile("[z-a]", &why) && why);
	CHECK(!cni_regex_compile("[[:nope:]]", &why) && why);
}
