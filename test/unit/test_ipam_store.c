/* Unit tests of host-local's store and allocator in a temp directory. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cni/ipam.h"
#include "unit.h"

struct fixture {
	char dir[64];
	char net[128];
	json_t *conf; /* the config borrows strings from it */
	struct ipam_hl_config cfg;
	struct ipam_store st;
};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

static int fx_open(struct fixture *fx, const char *ipam_json)
{
	memset(fx, 0, sizeof(*fx));
	strcpy(fx->dir, "/tmp/cnic-ipam-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->net, sizeof(fx->net), "%s/net", fx->dir);
	char conf[2048];
	snprintf(conf, sizeof(conf), "{\"name\":\"net\",\"ipam\":{\"dataDir\":\"%s\",%s}}", fx->dir, ipam_json);
	json_t *j = fx->conf = json_loads(conf, 0, NULL);
	struct cni_error e = { 0 };
	int r = j ? ipam_hl_config_parse(j, "1.0.0", NULL, &fx->cfg, &e) : -1;
	if (r < 0) {
		printf("#   config: %s\n", e.msg);
		return -1;
	}
	return ipam_store_open(&fx->st, fx->cfg.data_dir, "net", fx->cfg.n_sets, &e);
}

static void fx_close(struct fixture *fx)
{
	ipam_store_close(&fx->st);
	ipam_hl_config_free(&fx->cfg);
	json_decref(fx->conf);
	nftw(fx->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ADD; returns the first address as text (static buffer) or the error. */
static const char *add(struct fixture *fx, const char *cid, const char *ifname, struct cni_error *e)
{
	static char buf[512];
	memset(e, 0, sizeof(*e));
	struct cni_result *r = cni_result_new();
	if (ipam_allocate(&fx->st, &fx->cfg, cid, ifname, r, e) < 0) {
		cni_result_free(r);
		return e->msg;
	}
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < r->n_ips; i++) {
		char a[CNI_CIDR_STRLEN];
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? "," : "", cni_cidr_fmt(&r->ips[i].address, a));
	}
	cni_result_free(r);
	return buf;
}

static int del(struct fixture *fx, const char *cid, const char *ifname, size_t *n)
{
	struct cni_error e = { 0 };
	if (ipam_store_lock(&fx->st, &e) < 0)
		return -1;
	int r = ipam_store_release(&fx->st, cid, ifname, n, &e);
	ipam_store_unlock(&fx->st);
	return r;
}

static char *slurp(struct fixture *fx, const char *name)
{
	static char buf[4096];
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", fx->net, name);
	FILE *f = fopen(p, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void put(struct fixture *fx, const char *name, const char *content)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", fx->net, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

/* A neutralized spare: "cni-c spare\n", padded with '\n' to the size the
 * file had (so that it needs no truncation). */
static bool is_spare(const char *c)
{
	if (!c || strncmp(c, "cni-c spare\n", 12))
		return false;
	return strspn(c + 12, "\n") == strlen(c + 12);
}

static bool exists(struct fixture *fx, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", fx->net, name);
	return access(p, F_OK) == 0;
}

static int count_ip_files(struct fixture *fx)
{
	DIR *d = opendir(fx->net);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		struct cni_ip ip;
		n += cni_ip_parse(de->d_name, &ip) == 0;
	}
	if (d)
		closedir(d);
	return n;
}

#define RANGE24 "\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"}]]"
#define RANGE29 "\"ranges\":[[{\"subnet\":\"10.1.2.0/29\"}]]"

TEST(ipam_store_add_format_round_robin)
{
	struct fixture fx;
	struct cni_error e;
	REQUIRE(fx_open(&fx, RANGE24) == 0);
	CHECK_STR(add(&fx, "c1", "eth0", &e), "10.1.2.2/24");
	CHECK_STR(slurp(&fx, "10.1.2.2"), "c1\r\neth0");
	CHECK_STR(slurp(&fx, "last_reserved_ip.0"), "10.1.2.2");
	CHECK(exists(&fx, "lock"));
	CHECK_STR(add(&fx, "c2", "eth0", &e), "10.1.2.3/24");
	size_t n = 0;
	CHECK(del(&fx, "c1", "eth0", &n) == 0);
	CHECK_INT(n, 1);
	CHECK(!exists(&fx, "10.1.2.2"));
	/* the freed .2 is not handed out again before the range has cycled */
	CHECK_STR(add(&fx, "c3", "eth0", &e), "10.1.2.4/24");
	/* same container, other interface: fine; same pair again: refused */
	CHECK_STR(add(&fx, "c3", "eth1", &e), "10.1.2.5/24");
	CHECK(strstr(add(&fx, "c3", "eth0", &e), "failed to allocate for range 0: 10.1.2.4 has been allocated to c3, "
						  "duplicate allocation is not allowed") != NULL);
	CHECK_INT(e.code, CNI_ERR_EXISTS);
	/* DEL releases only that interface */
	CHECK(del(&fx, "c3", "eth1", &n) == 0);
	CHECK(exists(&fx, "10.1.2.4") && !exists(&fx, "10.1.2.5"));
	/* DEL of an unknown attachment and repeated DEL succeed */
	CHECK(del(&fx, "nope", "eth0", &n) == 0);
	CHECK(del(&fx, "c3", "eth1", &n) == 0);
	CHECK_INT(n, 0);
	fx_close(&fx);
}

TEST(ipam_store_exhaustion_and_wrap)
{
	struct fixture fx;
	struct cni_error e;
	REQUIRE(fx_open(&fx, RANGE29) == 0); /* .2 - .6 usable: 5 addresses */
	char cid[16];
	for (int i = 0; i < 5; i++) {
		snprintf(cid, sizeof(cid), "c%d", i);
		char want[32];
		snprintf(want, sizeof(want), "10.1.2.%d/29", i + 2);
		CHECK_STR(add(&fx, cid, "eth0", &e), want);
	}
	CHECK_STR(add(&fx, "c9", "eth0", &e), "failed to allocate for range 0: no IP addresses available in range set: "
					      "10.1.2.1-10.1.2.6");
	CHECK_INT(e.code, CNI_ERR_IPAM_EXHAUSTED);
	bool found = true;
	CHECK(ipam_set_has_free(&fx.st, &fx.cfg.sets[0], 0, &found, &e) == 0);
	CHECK(!found);
	/* free .3: next ADD wraps around from .6 and finds it */
	size_t n;
	CHECK(del(&fx, "c1", "eth0", &n) == 0);
	CHECK(ipam_set_has_free(&fx.st, &fx.cfg.sets[0], 0, &found, &e) == 0);
	CHECK(found);
	CHECK_STR(add(&fx, "c9", "eth0", &e), "10.1.2.3/29");
	CHECK_INT(count_ip_files(&fx), 5);
	fx_close(&fx);
}

TEST(ipam_store_requested_ips)
{
	struct fixture fx;
	struct cni_error e;
	REQUIRE(fx_open(&fx, "\"ranges\":[[{\"subnet\":\"10.1.2.0/24\",\"rangeEnd\":\"10.1.2.100\"}],"
			     "[{\"subnet\":\"2001:db8::/64\"}]]") == 0);
	struct cni_ip req[3];
	cni_ip_parse("10.1.2.50", &req[0]);
	cni_ip_parse("2001:db8::50", &req[1]);
	fx.cfg.requested = req;
	fx.cfg.n_requested = 2;
	CHECK_STR(add(&fx, "c1", "eth0", &e), "10.1.2.50/24,2001:db8::50/64");
	CHECK_STR(slurp(&fx, "last_reserved_ip.1"), "2001:db8::50");
	/* taken */
	fx.cfg.n_requested = 1;
	CHECK_STR(add(&fx, "c2", "eth0", &e),
		  "failed to allocate for range 0: requested IP address 10.1.2.50 is not available in range set "
		  "10.1.2.1-10.1.2.100");
	CHECK_INT(e.code, CNI_ERR_CONFLICT);
	/* nothing of c2 is left behind */
	CHECK_INT(count_ip_files(&fx), 2);
	/* the gateway */
	cni_ip_parse("10.1.2.1", &req[0]);
	CHECK_STR(add(&fx, "c3", "eth0", &e), "failed to allocate for range 0: requested ip 10.1.2.1 is subnet's gateway");
	/* outside every range set (after rangeEnd): nothing is allocated */
	cni_ip_parse("10.1.2.200", &req[0]);
	CHECK_STR(add(&fx, "c4", "eth0", &e), "failed to allocate all requested IPs: 10.1.2.200");
	CHECK_INT(count_ip_files(&fx), 2);
	fx.cfg.requested = NULL;
	fx.cfg.n_requested = 0;
	fx_close(&fx);
}

TEST(ipam_store_partial_failure_releases_only_this_add)
{
	struct fixture fx;
	struct cni_error e;
	/* set 1 has a single address */
	REQUIRE(fx_open(&fx, "\"ranges\":[[{\"subnet\":\"10.1.2.0/24\"}],"
			     "[{\"subnet\":\"10.9.0.0/30\",\"rangeStart\":\"10.9.0.2\",\"rangeEnd\":\"10.9.0.2\"}]]") == 0);
	CHECK_STR(add(&fx, "c1", "eth0", &e), "10.1.2.2/24,10.9.0.2/30");
	CHECK_STR(add(&fx, "c2", "eth0", &e), "failed to allocate for range 1: no IP addresses available in range set: "
					      "10.9.0.2-10.9.0.2");
	/* c2's address from set 0 was given back; c1 keeps both */
	CHECK(!exists(&fx, "10.1.2.3"));
	CHECK(exists(&fx, "10.1.2.2") && exists(&fx, "10.9.0.2"));
	CHECK_INT(count_ip_files(&fx), 2);
	fx_close(&fx);
}

TEST(ipam_store_legacy_and_foreign_files)
{
	struct fixture fx;
	struct cni_error e;
	REQUIRE(fx_open(&fx, RANGE24) == 0);
	CHECK_STR(add(&fx, "c1", "eth0", &e), "10.1.2.2/24");
	/* files written behind our back (the reference plugin, an old version) */
	put(&fx, "10.1.2.77", "old-ctr");
	put(&fx, "10.1.2.78", "ref-ctr\r\neth0");
	put(&fx, "last_reserved_ip.0", "10.1.2.78");
	/* a foreign reservation counts for duplicate detection */
	CHECK(strstr(add(&fx, "ref-ctr", "eth0", &e), "10.1.2.78 has been allocated to ref-ctr") != NULL);
	/* a legacy file (cid only) blocks any interface of that container */
	CHECK(strstr(add(&fx, "old-ctr", "eth5", &e), "10.1.2.77 has been allocated to old-ctr") != NULL);
	/* round robin continues after the foreign last_reserved_ip */
	CHECK_STR(add(&fx, "c2", "eth0", &e), "10.1.2.79/24");
	size_t n;
	CHECK(del(&fx, "ref-ctr", "eth0", &n) == 0);
	CHECK_INT(n, 1);
	CHECK(!exists(&fx, "10.1.2.78"));
	/* DEL with any ifname releases the legacy file when nothing else matches */
	CHECK(del(&fx, "old-ctr", "eth0", &n) == 0);
	CHECK_INT(n, 1);
	CHECK(!exists(&fx, "10.1.2.77"));
	/* a file removed behind our back: DEL still succeeds, nothing else goes */
	char p[512];
	snprintf(p, sizeof(p), "%s/10.1.2.2", fx.net);
	unlink(p);
	CHECK(del(&fx, "c1", "eth0", &n) == 0);
	CHECK_INT(n, 0);
	CHECK(exists(&fx, "10.1.2.79"));
	/* an index record pointing at an address now held by someone else is not trusted */
	put(&fx, "10.1.2.79", "thief\r\neth0");
	CHECK(del(&fx, "c2", "eth0", &n) == 0);
	CHECK_INT(n, 0);
	CHECK(exists(&fx, "10.1.2.79"));
	fx_close(&fx);
}

TEST(ipam_store_index_rebuilt_when_missing)
{
	struct fixture fx;
	struct cni_error e;
	REQUIRE(fx_open(&fx, RANGE24) == 0);
	CHECK_STR(add(&fx, "c1", "eth0", &e), "10.1.2.2/24");
	CHECK_STR(add(&fx, "c2", "eth0", &e), "10.1.2.3/24");
	/* wipe the whole index, leave debris of a killed writer */
	char p[512];
	snprintf(p, sizeof(p), "%s/.cni-c/c1:eth0", fx.net);
	CHECK(unlink(p) == 0);
	snprintf(p, sizeof(p), "%s/.cni-c/stamp", fx.net);
	CHECK(unlink(p) == 0);
	put(&fx, ".cni-c/tmp-1-1", "c1\r\neth0");
	CHECK(strstr(add(&fx, "c1", "eth0", &e), "duplicate allocation") != NULL);
	CHECK(!exists(&fx, ".cni-c/tmp-1-1"));
	CHECK(exists(&fx, ".cni-c/c1:eth0"));
	size_t n;
	CHECK(del(&fx, "c1", "eth0", &n) == 0);
	CHECK_INT(n, 1);
	fx_close(&fx);
}

TEST(ipam_store_gc)
{
	struct fixture fx;
	struct cni_error e = { 0 };
	REQUIRE(fx_open(&fx, RANGE24) == 0);
	CHECK_STR(add(&fx, "c1", "eth0", &e), "10.1.2.2/24");
	CHECK_STR(add(&fx, "c1", "eth1", &e), "10.1.2.3/24");
	CHECK_STR(add(&fx, "c2", "eth0", &e), "10.1.2.4/24");
	put(&fx, "10.1.2.50", "c3");  /* legacy file of a valid container */
	put(&fx, "10.1.2.51", "c4");  /* legacy file of a stale one */
	put(&fx, "10.1.2.52", "");    /* empty file left by a crashed reference plugin */
	struct cni_attachment valid[] = { { "c1", "eth0" }, { "c3", "eth0" } };
	size_t n = 0;
	REQUIRE(ipam_store_lock(&fx.st, &e) == 0);
	CHECK(ipam_store_gc(&fx.st, valid, 2, &n, &e) == 0);
	ipam_store_unlock(&fx.st);
	CHECK_INT(n, 4);
	CHECK(exists(&fx, "10.1.2.2") && exists(&fx, "10.1.2.50"));
	CHECK(!exists(&fx, "10.1.2.3") && !exists(&fx, "10.1.2.4") && !exists(&fx, "10.1.2.51") &&
	      !exists(&fx, "10.1.2.52"));
	CHECK(exists(&fx, "lock") && exists(&fx, "last_reserved_ip.0"));
	/* the index agrees: c2 can be added again, c1/eth0 still can't */
	CHECK_STR(add(&fx, "c2", "eth0", &e), "10.1.2.5/24");
	CHECK(strstr(add(&fx, "c1", "eth0", &e), "duplicate") != NULL);
	/* empty valid list: everything goes */
	REQUIRE(ipam_store_lock(&fx.st, &e) == 0);
	CHECK(ipam_store_gc(&fx.st, NULL, 0, &n, &e) == 0);
	ipam_store_unlock(&fx.st);
	CHECK_INT(n, 3);
	CHECK_INT(count_ip_files(&fx), 0);
	CHECK(exists(&fx, "lock") && exists(&fx, "last_reserved_ip.0"));
	fx_close(&fx);
}

TEST(ipam_store_path_safety)
{
	struct fixture fx;
	struct cni_error e = { 0 };
	REQUIRE(fx_open(&fx, RANGE24) == 0);
	struct ipam_store s2;
	CHECK(ipam_store_open(&s2, fx.dir, "../escape", 1, &e) == -1);
	CHECK(ipam_store_open(&s2, fx.dir, "..", 1, &e) == -1);
	CHECK(ipam_store_open(&s2, fx.dir, "", 1, &e) == -1);
	/* a network directory that is a symlink is refused */
	char p[512], q[512];
	snprintf(p, sizeof(p), "%s/elsewhere", fx.dir);
	snprintf(q, sizeof(q), "%s/linked", fx.dir);
	CHECK(mkdir(p, 0755) == 0 && symlink(p, q) == 0);
	CHECK(ipam_store_open(&s2, fx.dir, "linked", 1, &e) == -1);
	CHECK_INT(e.code, CNI_ERR_IPAM_STORE);
	/* ids with odd characters never become paths: they are found by scanning */
	CHECK_STR(add(&fx, "a", "../../x", &e), "10.1.2.2/24");
	CHECK_STR(slurp(&fx, "10.1.2.2"), "a\r\n../../x");
	size_t n;
	CHECK(del(&fx, "a", "../../x", &n) == 0);
	CHECK_INT(n, 1);
	/* an address file that is a symlink is never read through nor followed on delete */
	snprintf(p, sizeof(p), "%s/secret", fx.dir);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs("c9\r\neth0", f);
		fclose(f);
	}
	snprintf(q, sizeof(q), "%s/10.1.2.9", fx.net);
	CHECK(symlink(p, q) == 0);
	CHECK(del(&fx, "c9", "eth0", &n) == 0);
	CHECK_INT(n, 0);
	CHECK(access(p, F_OK) == 0);
	fx_close(&fx);
}

TEST(ipam_store_probe_and_reserved)
{
	struct fixture fx;
	struct cni_error e = { 0 };
	REQUIRE(fx_open(&fx, RANGE24) == 0);
	CHECK(ipam_store_probe_writable(&fx.st, &e) == 0);
	struct cni_ip ip;
	cni_ip_parse("10.1.2.9", &ip);
	bool r = true;
	CHECK(ipam_store_is_reserved(&fx.st, &ip, &r, &e) == 0 && !r);
	put(&fx, "10.1.2.9", "x\r\neth0");
	CHECK(ipam_store_is_reserved(&fx.st, &ip, &r, &e) == 0 && r);
	/* the reservation skips it */
	CHECK_STR(add(&fx, "c1", "eth0", &e), "10.1.2.2/24");
	fx_close(&fx);
}

TEST(ipam_store_last_reserved_torn_or_empty_is_only_a_hint)
{
	struct fixture fx;
	struct cni_error e;
	REQUIRE(fx_open(&fx, RANGE24) == 0);
	put(&fx, "last_reserved_ip.0", "");          /* torn to nothing */
	CHECK_STR(add(&fx, "c1", "eth0", &e), "10.1.2.2/24");
	put(&fx, "last_reserved_ip.0", "10.1.2.9x"); /* old bytes left after a shorter write */
	CHECK_STR(add(&fx, "c2", "eth0", &e), "10.1.2.3/24");
	put(&fx, "last_reserved_ip.0", "10.1.2.20\n");
	CHECK_STR(add(&fx, "c3", "eth0", &e), "10.1.2.21/24");
	/* written in place: a longer old content is cut to the new one */
	put(&fx, "last_reserved_ip.0", "10.1.2.200");
	CHECK_STR(add(&fx, "c4", "eth0", &e), "10.1.2.201/24");
	put(&fx, "last_reserved_ip.0", "10.1.2.3      ");
	CHECK_STR(add(&fx, "c5", "eth0", &e), "10.1.2.4/24");
	CHECK_STR(slurp(&fx, "last_reserved_ip.0"), "10.1.2.4");
	fx_close(&fx);
}

/* DEL gives the record to the spares before the address file, so the next
 * ADD reserves with the released address file's inode (same size: nothing
 * to truncate); longer spares are truncated, shorter ones grow: contents
 * are always exact. */
TEST(ipam_store_spare_sizes)
{
	struct fixture fx;
	struct cni_error e;
	size_t n;
	struct stat st;
	char p[512];
	REQUIRE(fx_open(&fx, RANGE24) == 0);
	CHECK_STR(add(&fx, "c1", "eth0", &e), "10.1.2.2/24");
	snprintf(p, sizeof(p), "%s/10.1.2.2", fx.net);
	REQUIRE(stat(p, &st) == 0);
	ino_t ino = st.st_ino;
	CHECK(del(&fx, "c1", "eth0", &n) == 0);
	CHECK_STR(add(&fx, "c2", "eth0", &e), "10.1.2.3/24");
	snprintf(p, sizeof(p), "%s/10.1.2.3", fx.net);
	REQUIRE(stat(p, &st) == 0);
	CHECK(st.st_ino == ino && st.st_size == 8);
	CHECK_STR(slurp(&fx, "10.1.2.3"), "c2\r\neth0");
	CHECK_STR(slurp(&fx, ".cni-c/c2:eth0"), "cni-c attachment v1\n10.1.2.3\n");
	CHECK(del(&fx, "c2", "eth0", &n) == 0);
	CHECK_STR(add(&fx, "a-much-longer-container-id", "eth0", &e), "10.1.2.4/24");
	CHECK_STR(slurp(&fx, "10.1.2.4"), "a-much-longer-container-id\r\neth0");
	CHECK(del(&fx, "a-much-longer-container-id", "eth0", &n) == 0);
	CHECK_INT(n, 1);
	CHECK_STR(add(&fx, "c4", "eth0", &e), "10.1.2.5/24");
	CHECK_STR(slurp(&fx, "10.1.2.5"), "c4\r\neth0");
	CHECK_STR(slurp(&fx, ".cni-c/c4:eth0"), "cni-c attachment v1\n10.1.2.5\n");
	CHECK(del(&fx, "c4", "eth0", &n) == 0);
	CHECK_INT(n, 1);
	CHECK(count_ip_files(&fx) == 0);
	fx_close(&fx);
}

TEST(ipam_store_spares_are_neutral_and_reused)
{
	struct fixture fx;
	struct cni_error e;
	size_t n;
	REQUIRE(fx_open(&fx, RANGE24) == 0);
	CHECK_STR(add(&fx, "c1", "eth0", &e), "10.1.2.2/24");
	CHECK(del(&fx, "c1", "eth0", &n) == 0);
	CHECK_INT(n, 1);
	/* the address file and the record became spares, neither names c1 */
	CHECK(!exists(&fx, "10.1.2.2") && !exists(&fx, ".cni-c/c1:eth0"));
	CHECK(is_spare(slurp(&fx, ".cni-c/spare.0")));
	CHECK(is_spare(slurp(&fx, ".cni-c/spare.1")));
	struct stat st;
	char p[512];
	snprintf(p, sizeof(p), "%s/.cni-c/spare.1", fx.net);
	REQUIRE(stat(p, &st) == 0);
	ino_t ino = st.st_ino;
	/* the next ADD takes them: the reservation is the last spare's inode */
	CHECK_STR(add(&fx, "c2", "eth0", &e), "10.1.2.3/24");
	CHECK(!exists(&fx, ".cni-c/spare.0") && !exists(&fx, ".cni-c/spare.1"));
	snprintf(p, sizeof(p), "%s/10.1.2.3", fx.net);
	REQUIRE(stat(p, &st) == 0);
	CHECK(st.st_ino == ino && st.st_nlink == 1);
	CHECK_STR(slurp(&fx, "10.1.2.3"), "c2\r\neth0");
	CHECK_STR(slurp(&fx, ".cni-c/c2:eth0"), "cni-c attachment v1\n10.1.2.3\n");
	/* a spare with a second link is never rewritten */
	CHECK(del(&fx, "c2", "eth0", &n) == 0);
	char q[512];
	snprintf(p, sizeof(p), "%s/.cni-c/spare.1", fx.net);
	snprintf(q, sizeof(q), "%s/keep", fx.dir);
	REQUIRE(link(p, q) == 0);
	CHECK_STR(add(&fx, "c3", "eth0", &e), "10.1.2.4/24");
	CHECK(is_spare(slurp(&fx, "../keep")));
	CHECK(del(&fx, "c3", "eth0", &n) == 0);
	fx_close(&fx);
}
