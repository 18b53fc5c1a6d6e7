/* Unit tests of pkg/runtime: SHA-512, base64, cnitool's CNI_ARGS/CAP_ARGS
 * rules, conflist loading and version selection, stdin building with
 * capability injection, the cniCacheV1 format. No root needed. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cni/json.h"
#include "cni/runtime.h"
#include "unit.h"

static void hex(const uint8_t *h, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

static const char *sha_hex(const void *d, size_t len)
{
	static char out[2 * CNI_SHA512_LEN + 1];
	uint8_t h[CNI_SHA512_LEN];
	cni_sha512(d, len, h);
	hex(h, sizeof(h), out);
	return out;
}

TEST(runtime_sha512_vectors)
{
	CHECK_STR(sha_hex("", 0), "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
				  "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
	CHECK_STR(sha_hex("abc", 3), "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
				     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	CHECK_STR(sha_hex(m448, strlen(m448)), "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
					       "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445");
	const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	CHECK_STR(sha_hex(m896, strlen(m896)), "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
					       "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
	/* padding boundaries: 111/112 bytes fit or spill the length field, 128 is one block */
	static const struct { size_t n; const char *h; } v[] = {
		{ 111, "fa9121c7b32b9e01733d034cfc78cbf67f926c7ed83e82200ef86818196921760b4beff48404df811b953828274461673c68d04e297b0eb7b2b4d60fc6b566a2" },
		{ 112, "c01d080efd492776a1c43bd23dd99d0a2e626d481e16782e75d54c2503b5dc32bd05f0f1ba33e568b88fd2d970929b719ecbb152f58f130a407c8830604b70ca" },
		{ 127, "828613968b501dc00a97e08c73b118aa8876c26b8aac93df128502ab360f91bab50a51e088769a5c1eff4782ace147dce3642554199876374291f5d921629502" },
		{ 128, "b73d1929aa615934e61a871596b3f3b33359f42b8175602e89f7e06e5f658a243667807ed300314b95cacdd579f3e33abdfbe351909519a846d465c59582f321" },
		{ 129, "4f681e0bd53cda4b5a2041cc8a06f2eabde44fb16c951fbd5b87702f07aeab611565b19c47fde30587177ebb852e3971bbd8d3fd30da18d71037dfbd98420429" },
		{ 239, "52c853cb8d907f3d4d6b889beb027985d7c273486d75f8baf26f80d24e90c74c6c3de3e22131582380a7d14d43f2941a31385439cd6ddc469f628015e50bf286" },
		{ 1000000, "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b" },
	};
	char *a = malloc(1000000);
	REQUIRE(a);
	memset(a, 'a', 1000000);
	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		CHECK_STR(sha_hex(a, v[i].n), v[i].h);
	free(a);
}

TEST(runtime_container_id_like_cnitool)
{
	char cid[8 + 20 + 1];
	cni_rt_container_id("/run/netns/test", cid);
	CHECK_STR(cid, "cnitool-8ae22670664f2caaa6b3");
}

TEST(runtime_abs_path_cleans_like_go)
{
	static const char *const v[][2] = {
		{ "/a/b/../c/./d//", "/a/c/d" }, { "/..", "/" }, { "/", "/" }, { "/run/netns/x", "/run/netns/x" },
		{ "//a//b", "/a/b" }, { "/a/..b/.c", "/a/..b/.c" }, { "/a/b/../../..", "/" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		char *p = cni_rt_abs_path(v[i][0]);
		CHECK_STR(p, v[i][1]);
		free(p);
	}
	char *cwd = getcwd(NULL, 0), *p = cni_rt_abs_path("x/../y"), *want = NULL;
	REQUIRE(cwd && p && asprintf(&want, "%s/y", strcmp(cwd, "/") ? cwd : "") > 0);
	CHECK_STR(p, want);
	free(cwd);
	free(p);
	free(want);
}

TEST(runtime_base64)
{
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" }, { "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		char *e = cni_base64_encode(v[i][0], strlen(v[i][0]));
		CHECK_STR(e, v[i][1]);
		size_t len = 99;
		char *d = cni_base64_decode(v[i][1], &len);
		REQUIRE(d);
		CHECK_INT(len, strlen(v[i][0]));
		CHECK(!memcmp(d, v[i][0], len));
		free(e);
		free(d);
	}
	size_t len;
	CHECK(!cni_base64_decode("Zm9", &len));
	CHECK(!cni_base64_decode("Z===", &len));
	CHECK(!cni_base64_decode("Zm=v", &len));
	CHECK(!cni_base64_decode("Zm9*", &len));
}

TEST(runtime_cni_args_rules)
{
	struct cni_arg *a;
	size_t n;
	struct cni_error e;
	REQUIRE(cni_rt_parse_cni_args("IP=10.0.0.5;IgnoreUnknown=1", &a, &n, &e) == 0);
	CHECK_INT(n, 2);
	CHECK_STR(a[0].key, "IP");
	CHECK_STR(a[0].value, "10.0.0.5");
	CHECK_STR(a[1].key, "IgnoreUnknown");
	cni_args_free(a, n);
	REQUIRE(cni_rt_parse_cni_args("", &a, &n, &e) == 0);
	CHECK_INT(n, 0);
	static const char *const bad[] = { "A", "=1", "A=", "A=1=2", "A=1;", "A=1;;B=2" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK(cni_rt_parse_cni_args(bad[i], &a, &n, &e) < 0);
		CHECK_INT(e.code, CNI_ERR_INVALID_ENV);
		CHECK(strstr(e.msg, "invalid CNI_ARGS pair") != NULL);
	}
}

TEST(runtime_cap_args)
{
	json_t *j;
	struct cni_error e;
	REQUIRE(cni_rt_parse_cap_args("{\"portMappings\":[{\"hostPort\":8080}]}", &j, &e) == 0);
	CHECK(json_is_array(json_object_get(j, "portMappings")));
	json_decref(j);
	CHECK(cni_rt_parse_cap_args("", &j, &e) == 0 && !j);
	CHECK(cni_rt_parse_cap_args("null", &j, &e) == 0 && !j);
	CHECK(cni_rt_parse_cap_args("[1]", &j, &e) < 0);
	CHECK(cni_rt_parse_cap_args("{", &j, &e) < 0);
	CHECK_INT(e.code, CNI_ERR_DECODE);
}

static struct cni_netconf_list *parse(const char *s, struct cni_error *e)
{
	struct cni_netconf_list *l = NULL;
	cni_error_clear(e);
	if (cni_netconf_list_parse(s, strlen(s), &l, e) < 0)
		return NULL;
	return l;
}

TEST(runtime_conflist_version_selection)
{
	struct cni_error e;
	struct cni_netconf_list *l;
	l = parse("{\"name\":\"n\",\"cniVersion\":\"0.4.0\",\"cniVersions\":[\"0.3.1\",\"1.0.0\",\"2.0.0\"],"
		  "\"plugins\":[{\"type\":\"a\"}]}", &e);
	REQUIRE(l);
	CHECK_STR(l->version, "1.0.0"); /* 2.0.0 is newer than we speak: ignored */
	cni_netconf_list_free(l);
	l = parse("{\"name\":\"n\",\"cniVersion\":\"1.1.0\",\"cniVersions\":[\"0.3.1\"],\"plugins\":[{\"type\":\"a\"}]}", &e);
	REQUIRE(l);
	CHECK_STR(l->version, "1.1.0");
	cni_netconf_list_free(l);
	l = parse("{\"name\":\"n\",\"cniVersion\":\"0.3.1\",\"cniVersions\":[],\"plugins\":[{\"type\":\"a\"}]}", &e);
	REQUIRE(l);
	CHECK_STR(l->version, "0.3.1");
	cni_netconf_list_free(l);
	l = parse("{\"name\":\"n\",\"cniVersions\":[\"9.0.0\"],\"cniVersion\":\"0.4.0\",\"plugins\":[{\"type\":\"a\"}]}", &e);
	REQUIRE(l);
	CHECK_STR(l->version, "0.4.0");
	cni_netconf_list_free(l);
	l = parse("{\"name\":\"n\",\"cniVersions\":[\"1.0.0\",\"0.4.0\"],\"plugins\":[{\"type\":\"a\"}]}", &e);
	REQUIRE(l);
	CHECK_STR(l->version, "1.0.0");
	cni_netconf_list_free(l);
	/* no cniVersions: cniVersion as written, even a newer one */
	l = parse("{\"name\":\"n\",\"cniVersion\":\"3.0.0\",\"plugins\":[{\"type\":\"a\"}]}", &e);
	REQUIRE(l);
	CHECK_STR(l->version, "3.0.0");
	cni_netconf_list_free(l);
	CHECK(!parse("{\"name\":\"n\",\"cniVersions\":[\"1.0.0\",\"one\"],\"plugins\":[{\"type\":\"a\"}]}", &e));
	CHECK(strstr(e.msg, "invalid cniVersions entry one") != NULL);
	CHECK(!parse("{\"name\":\"n\",\"cniVersions\":[1],\"plugins\":[{\"type\":\"a\"}]}", &e));
	CHECK(!parse("{\"name\":\"n\",\"cniVersions\":\"1.0.0\",\"plugins\":[{\"type\":\"a\"}]}", &e));
}

TEST(runtime_conflist_keys)
{
	struct cni_error e;
	struct cni_netconf_list *l;
	l = parse("{\"name\":\"n\",\"cniVersion\":\"1.0.0\",\"disableCheck\":\"TRUE\",\"disableGC\":true,"
		  "\"loadOnlyInlinedPlugins\":\"false\",\"plugins\":[{\"type\":\"a\",\"name\":\"first\"},{\"type\":\"b\"}]}", &e);
	REQUIRE(l);
	CHECK(l->disable_check);
	CHECK(l->disable_gc);
	CHECK(!l->load_only_inlined);
	CHECK_INT(l->n_plugins, 2);
	CHECK_STR(l->plugins[0].type, "a");
	CHECK_STR(l->plugins[0].name, "first");
	CHECK(!l->plugins[1].name);
	cni_netconf_list_free(l);
	CHECK(!parse("{\"name\":\"n\",\"disableCheck\":\"yes\",\"plugins\":[{\"type\":\"a\"}]}", &e));
	CHECK(strstr(e.msg, "disableCheck") != NULL);
	CHECK(!parse("{\"name\":\"n\",\"disableGC\":1,\"plugins\":[{\"type\":\"a\"}]}", &e));
	CHECK(!parse("{\"name\":\"n\",\"loadOnlyInlinedPlugins\":true}", &e));
	l = parse("{\"name\":\"n\"}", &e); /* plugins may come from <dir>/<name>/ */
	REQUIRE(l);
	CHECK_INT(l->n_plugins, 0);
	cni_netconf_list_free(l);
	CHECK(!parse("{\"name\":\"n\",\"plugins\":[]}", &e));
	CHECK(!parse("{\"name\":\"n\",\"plugins\":[{\"type\":\"\"}]}", &e));
	CHECK(strstr(e.msg, "missing 'type'") != NULL);
	CHECK(!parse("{\"name\":\"n\",\"plugins\":[{\"type\":\"a\",\"capabilities\":{\"x\":1}}]}", &e));
	CHECK(!parse("{\"plugins\":[{\"type\":\"a\"}]}", &e));
	CHECK(strstr(e.msg, "no name") != NULL);
	CHECK(!parse("{\"name\":5,\"plugins\":[{\"type\":\"a\"}]}", &e));
	CHECK(!parse("{\"name\":\"n\",\"cniVersion\":1,\"plugins\":[{\"type\":\"a\"}]}", &e));
	CHECK(!parse("not json", &e));
	CHECK_INT(e.code, CNI_ERR_INVALID_CONFIG);
}

static void write_file(const char *dir, const char *name, const char *data)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(data, f);
		fclose(f);
	}
}

static void rm_rf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
}

TEST(runtime_conflist_load_from_dir)
{
	char dir[] = "/tmp/cnic-unit-XXXXXX";
	REQUIRE(mkdtemp(dir));
	struct cni_error e;
	struct cni_netconf_list *l = NULL;
	CHECK(cni_netconf_list_load(dir, "x", &l, &e) < 0);
	CHECK(strstr(e.msg, "no net configurations found") != NULL);

	write_file(dir, "10-other.conflist", "{\"name\":\"other\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"o\"}]}");
	write_file(dir, "20-net.conflist", "{\"name\":\"net\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"first\"}]}");
	write_file(dir, "30-net.conflist", "{\"name\":\"net\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"later\"}]}");
	write_file(dir, "05-net.conf", "{\"name\":\"net\",\"cniVersion\":\"1.0.0\",\"type\":\"legacy\"}");
	write_file(dir, "06-single.json", "{\"type\":\"single\",\"name\":\"single\",\"cniVersion\":\"0.4.0\",\"ipam\":{\"b\":1,\"a\":2}}");
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/net", dir);
	REQUIRE(mkdir(sub, 0755) == 0);
	write_file(sub, "b.conf", "{\"type\":\"dir-b\"}");
	write_file(sub, "a.conf", "{\"type\":\"dir-a\"}");
	write_file(sub, "c.json", "{\"type\":\"ignored\"}");

	REQUIRE(cni_netconf_list_load(dir, "net", &l, &e) == 0);
	CHECK_INT(l->n_plugins, 3); /* the .conflist wins over the .conf; dir plugins appended, sorted */
	if (l->n_plugins == 3) {
		CHECK_STR(l->plugins[0].type, "first");
		CHECK_STR(l->plugins[1].type, "dir-a");
		CHECK_STR(l->plugins[2].type, "dir-b");
	}
	CHECK(strstr(l->bytes, "\"first\"") && !strstr(l->bytes, "dir-a")); /* cached config: the file only */
	cni_netconf_list_free(l);

	/* legacy single-plugin file, up-converted like libcni (Go map order) */
	REQUIRE(cni_netconf_list_load(dir, "single", &l, &e) == 0);
	CHECK_INT(l->n_plugins, 1);
	CHECK_STR(l->version, "0.4.0");
	CHECK_STR(l->bytes, "{\"cniVersion\":\"0.4.0\",\"name\":\"single\",\"plugins\":[{\"cniVersion\":\"0.4.0\","
			    "\"ipam\":{\"a\":2,\"b\":1},\"name\":\"single\",\"type\":\"single\"}]}");
	cni_netconf_list_free(l);

	/* loadOnlyInlinedPlugins: no directory plugins */
	write_file(dir, "20-net.conflist",
		   "{\"name\":\"net\",\"loadOnlyInlinedPlugins\":true,\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"first\"}]}");
	REQUIRE(cni_netconf_list_load(dir, "net", &l, &e) == 0);
	CHECK_INT(l->n_plugins, 1);
	cni_netconf_list_free(l);
	/* a list without plugins takes them all from the directory */
	write_file(dir, "20-net.conflist", "{\"name\":\"net\",\"cniVersion\":\"1.0.0\"}");
	REQUIRE(cni_netconf_list_load(dir, "net", &l, &e) == 0);
	CHECK_INT(l->n_plugins, 2);
	cni_netconf_list_free(l);

	CHECK(cni_netconf_list_load(dir, "missing", &l, &e) < 0);
	CHECK(strstr(e.msg, "no net configuration with name \"missing\"") != NULL);
	/* a broken conflist is an error naming it (libcni stops there too) */
	write_file(dir, "00-broken.conflist", "{");
	CHECK(cni_netconf_list_load(dir, "net", &l, &e) < 0);
	CHECK(strstr(e.msg, "00-broken.conflist") != NULL);
	rm_rf(dir);
}

TEST(runtime_stdin_injection)
{
	struct cni_error e;
	struct cni_netconf_list *l =
		parse("{\"name\":\"net1\",\"cniVersion\":\"1.0.0\",\"plugins\":["
		      "{\"type\":\"p\",\"name\":\"own\",\"cniVersion\":\"0.1.0\",\"zeta\":1,\"alpha\":{\"y\":1,\"x\":2},"
		      "\"capabilities\":{\"portMappings\":true,\"bandwidth\":false,\"ips\":true},"
		      "\"runtimeConfig\":{\"static\":true}},"
		      "{\"type\":\"q\",\"runtimeConfig\":{\"static\":true}}]}", &e);
	REQUIRE(l);
	json_t *caps = json_loads("{\"portMappings\":[{\"hostPort\":80,\"containerPort\":8080}],"
				  "\"bandwidth\":{\"ingressRate\":1},\"mac\":\"x\"}", 0, NULL);
	struct cni_rt_conf rt = { .container_id = "c", .netns = "/n", .ifname = "eth0", .cap_args = caps };
	char *s = cni_rt_build_stdin(l, &l->plugins[0], NULL, &rt, &e);
	/* name/cniVersion replaced, runtimeConfig = declared AND supplied only
	 * (replacing the static one), keys in Go map order */
	CHECK_STR(s, "{\"alpha\":{\"x\":2,\"y\":1},\"capabilities\":{\"bandwidth\":false,\"ips\":true,\"portMappings\":true},"
		     "\"cniVersion\":\"1.0.0\",\"name\":\"net1\",\"runtimeConfig\":{\"portMappings\":[{\"containerPort\":8080,"
		     "\"hostPort\":80}]},\"type\":\"p\",\"zeta\":1}");
	free(s);
	/* no capability declared: a static runtimeConfig passes untouched; prevResult keeps its order */
	json_t *prev = json_loads("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"lo\"}],\"ips\":[]}", 0, NULL);
	s = cni_rt_build_stdin(l, &l->plugins[1], prev, &rt, &e);
	CHECK_STR(s, "{\"cniVersion\":\"1.0.0\",\"name\":\"net1\",\"prevResult\":{\"cniVersion\":\"1.0.0\","
		     "\"interfaces\":[{\"name\":\"lo\"}],\"ips\":[]},\"runtimeConfig\":{\"static\":true},\"type\":\"q\"}");
	free(s);
	/* no capability args at all: nothing injected */
	rt.cap_args = NULL;
	s = cni_rt_build_stdin(l, &l->plugins[0], NULL, &rt, &e);
	CHECK(s && strstr(s, "\"runtimeConfig\":{\"static\":true}"));
	free(s);
	json_decref(prev);
	json_decref(caps);
	cni_netconf_list_free(l);
}

TEST(runtime_cache_format)
{
	struct cni_error e;
	struct cni_arg args[] = { { "IP", "10.1.2.3" }, { "K", "V" } };
	json_t *caps = json_loads("{\"portMappings\":[{\"hostPort\":80}],\"a\":1}", 0, NULL);
	json_t *res = json_loads("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.1.2.3/24\",\"interface\":0}],"
				 "\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/n\"}]}", 0, NULL);
	const char *conf = "{\"name\":\"net\"}";
	struct cni_cache_entry ent = {
		.container_id = "cid", .ifname = "eth0", .net_name = "net", .netns = "/n",
		.config = (char *)conf, .config_len = strlen(conf), .args = args, .n_args = 2,
		.cap_args = caps, .result = res,
	};
	char *s = cni_cache_encode(&ent, &e);
	CHECK_STR(s, "{\"kind\":\"cniCacheV1\",\"containerId\":\"cid\",\"config\":\"eyJuYW1lIjoibmV0In0=\","
		     "\"ifName\":\"eth0\",\"networkName\":\"net\",\"netns\":\"/n\",\"cniArgs\":[[\"IP\",\"10.1.2.3\"],[\"K\",\"V\"]],"
		     "\"capabilityArgs\":{\"a\":1,\"portMappings\":[{\"hostPort\":80}]},"
		     "\"result\":{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/n\"}],"
		     "\"ips\":[{\"address\":\"10.1.2.3/24\",\"interface\":0}]}}");
	struct cni_cache_entry d;
	REQUIRE(s && cni_cache_decode(s, strlen(s), &d, &e) == 0);
	CHECK_STR(d.container_id, "cid");
	CHECK_STR(d.ifname, "eth0");
	CHECK_STR(d.net_name, "net");
	CHECK_STR(d.netns, "/n");
	CHECK_STR(d.config, conf);
	CHECK_INT(d.n_args, 2);
	CHECK_STR(d.args[1].value, "V");
	CHECK(json_equal(d.cap_args, caps));
	CHECK(json_equal(d.result, res));
	cni_cache_entry_clear(&d);
	free(s);
	/* omitempty: no netns, args, caps, result */
	struct cni_cache_entry bare = { .container_id = "c", .ifname = "i", .net_name = "n" };
	s = cni_cache_encode(&bare, &e);
	CHECK_STR(s, "{\"kind\":\"cniCacheV1\",\"containerId\":\"c\",\"config\":\"\",\"ifName\":\"i\",\"networkName\":\"n\"}");
	free(s);
	/* what libcni 1.1.2 writes (no netns) decodes */
	const char *go = "{\"kind\":\"cniCacheV1\",\"containerId\":\"x\",\"config\":\"e30=\",\"ifName\":\"eth0\","
			 "\"networkName\":\"n\",\"result\":{\"cniVersion\":\"0.4.0\",\"dns\":{}}}";
	REQUIRE(cni_cache_decode(go, strlen(go), &d, &e) == 0);
	CHECK(!d.netns);
	CHECK_STR(d.config, "{}");
	cni_cache_entry_clear(&d);
	CHECK(cni_cache_decode("{\"kind\":\"other\"}", 16, &d, &e) < 0);
	CHECK(cni_cache_decode("{\"kind\":\"cniCacheV1\",\"config\":\"!!\"}", 35, &d, &e) < 0);
	CHECK(cni_cache_decode("{\"kind\":\"cniCacheV1\",\"cniArgs\":[[\"a\"]]}", 38, &d, &e) < 0);
	json_decref(caps);
	json_decref(res);
}

TEST(runtime_cache_files)
{
	char dir[] = "/tmp/cnic-unit-XXXXXX";
	REQUIRE(mkdtemp(dir));
	struct cni_error e;
	char base[300];
	snprintf(base, sizeof(base), "%s/cache", dir);
	json_t *res = json_loads("{\"cniVersion\":\"1.0.0\"}", 0, NULL);
	struct cni_cache_entry a = { .container_id = "c1", .ifname = "eth0", .net_name = "net", .config = "{}", .config_len = 2, .result = res };
	struct cni_cache_entry b = { .container_id = "c2", .ifname = "eth1", .net_name = "net", .config = "{}", .config_len = 2 };
	struct cni_cache_entry c = { .container_id = "c3", .ifname = "eth0", .net_name = "other", .config = "{}", .config_len = 2 };
	REQUIRE(cni_cache_write(base, &a, &e) == 0);
	REQUIRE(cni_cache_write(base, &b, &e) == 0);
	REQUIRE(cni_cache_write(base, &c, &e) == 0);
	char p[400];
	struct stat st;
	snprintf(p, sizeof(p), "%s/results", base);
	REQUIRE(stat(p, &st) == 0);
	CHECK_INT(st.st_mode & 0777, 0700);
	snprintf(p, sizeof(p), "%s/results/net-c1-eth0", base);
	REQUIRE(stat(p, &st) == 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	write_file(dir, "cache/results/junk", "not json");

	struct cni_cache_entry r;
	CHECK_INT(cni_cache_read(base, "net", "c1", "eth0", &r, &e), 1);
	CHECK(json_equal(r.result, res));
	cni_cache_entry_clear(&r);
	CHECK_INT(cni_cache_read(base, "net", "nope", "eth0", &r, &e), 0);
	CHECK(!cni_cache_path(base, "net", "", "eth0", &e));

	struct cni_cache_entry *list;
	size_t n;
	REQUIRE(cni_cache_list(base, "net", &list, &n, &e) == 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(list[0].container_id, "c1");
		CHECK_STR(list[1].ifname, "eth1");
	}
	cni_cache_entries_free(list, n);
	REQUIRE(cni_cache_list(base, NULL, &list, &n, &e) == 0);
	CHECK_INT(n, 3);
	cni_cache_entries_free(list, n);

	CHECK(cni_cache_remove(base, "net", "c1", "eth0") == 0);
	CHECK(cni_cache_remove(base, "net", "c1", "eth0") == 0);
	CHECK_INT(cni_cache_read(base, "net", "c1", "eth0", &r, &e), 0);
	/* unreadable cache: an error, not silently nothing */
	write_file(dir, "cache/results/net-bad-eth0", "{\"kind\":\"cniCacheV1\",\"config\":5}");
	CHECK_INT(cni_cache_read(base, "net", "bad", "eth0", &r, &e), -1);
	/* libcni's legacy format: a bare result */
	write_file(dir, "cache/results/net-old-eth0", "{\"cniVersion\":\"0.3.1\",\"ips\":[]}");
	CHECK_INT(cni_cache_read(base, "net", "old", "eth0", &r, &e), 1);
	CHECK(r.result && json_is_string(json_object_get(r.result, "cniVersion")));
	cni_cache_entry_clear(&r);
	/* no cache directory at all: an empty list */
	snprintf(p, sizeof(p), "%s/none", dir);
	REQUIRE(cni_cache_list(p, NULL, &list, &n, &e) == 0);
	CHECK_INT(n, 0);
	json_decref(res);
	rm_rf(dir);
}

TEST(runtime_sorted_copy)
{
	json_t *j = json_loads("{\"b\":[{\"z\":1,\"a\":2}],\"a\":{\"d\":1,\"c\":2},\"keep\":{\"y\":1,\"x\":2}}", 0, NULL);
	json_t *s = cni_json_sorted_copy(j, "keep");
	char *d = json_dumps(s, JSON_COMPACT);
	CHECK_STR(d, "{\"a\":{\"c\":2,\"d\":1},\"b\":[{\"a\":2,\"z\":1}],\"keep\":{\"y\":1,\"x\":2}}");
	free(d);
	json_decref(s);
	json_decref(j);
}
