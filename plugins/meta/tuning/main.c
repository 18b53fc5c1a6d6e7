/* tuning (chained): sysctls and link attributes of the container interface.
 *
 * ADD (prevResult required): every `sysctl` key (config, then args.cni.sysctl
 * over it) written in the container's netns; then, when a link attribute is
 * asked for, its current values are saved to <dataDir>/<cid>_<ifname>.json
 * and MAC, promisc, MTU, allmulti and txQLen are applied in that order. The
 * result is prevResult with the new MAC on the interfaces named CNI_IFNAME.
 * A failure part-way puts back what this ADD changed (sysctls included) and
 * removes the backup.
 *
 * DEL restores the saved attributes (not the sysctls: they go with the
 * interface or the netns) and removes the backup; it never fails. With the
 * netns or the interface gone the backup is just removed (the reference
 * leaves it). CHECK compares the sysctls and attributes with the config.
 * GC removes backups of this network's stale attachments; the backup file
 * names the network, the container and the interface for that (the
 * reference's files carry no network and are left alone). STATUS: ready.
 *
 * Sysctl keys: slash form (net/ipv4/conf/eth0.100/rp_filter) is used as
 * written; in dot form (net.ipv4.conf.eth0/100.rp_filter) dots separate and a
 * slash stands for a dot, as sysctl(8) reads them (the reference turns every
 * dot into a slash, so an interface name with a dot cannot be named). The
 * first `IFNAME` is replaced by CNI_IFNAME. The key must stay under net/.
 * With /etc/cni/tuning/allowlist.conf present (one regular expression a
 * line), every key must match one of them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni/json.h"
#include "cni/netlink.h"
#include "cni/netns.h"
#include "cni/plugin.h"

#define DEFAULT_DATA_DIR "/run/cni/tuning"
#define DEFAULT_ALLOWLIST "/etc/cni/tuning/allowlist.conf"

struct sysctl_kv {
	const char *key;   /* as configured */
	const char *value;
	char rel[256];     /* path below /proc/sys */
	char old[256];     /* value before ADD wrote it */
	bool written;
};

struct tconf {
	const char *data_dir;
	struct sysctl_kv *sc;
	size_t n_sc, cap_sc;
	bool has_mac;
	uint8_t mac[6];
	bool promisc;
	long long mtu;
	bool has_allmulti, allmulti;
	bool has_txqlen;
	long long txqlen;
};

static void tconf_free(struct tconf *t)
{
	free(t->sc);
}

/* Link attributes saved before ADD changes them (the reference's backup). */
struct saved {
	bool has_mac, has_promisc, has_allmulti, has_txqlen;
	uint8_t mac[6];
	bool promisc, allmulti;
	unsigned mtu; /* 0 = not saved */
	unsigned txqlen;
};

static bool wants_link_change(const struct tconf *t)
{
	return t->has_mac || t->promisc || t->mtu || t->has_allmulti || t->has_txqlen;
}

/* ---- configuration ---------------------------------------------------- */

static int add_sysctl(struct tconf *t, const char *key, const char *value)
{
	for (size_t i = 0; i < t->n_sc; i++)
		if (!strcmp(t->sc[i].key, key)) {
			t->sc[i].value = value; /* args.cni.sysctl over the config's */
			return 0;
		}
	if (cni_grow((void **)&t->sc, &t->cap_sc, t->n_sc, sizeof(*t->sc)) < 0)
		return -1;
	t->sc[t->n_sc++] = (struct sysctl_kv){ .key = key, .value = value };
	return 0;
}

static int load_sysctls(struct tconf *t, const json_t *obj, const char *what, struct cni_error *err)
{
	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "%s must be an object of strings", what);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) {
		if (json_is_null(v))
			continue;
		if (!json_is_string(v))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "%s: the value of \"%s\" must be a string", what, k);
		if (add_sysctl(t, k, json_string_value(v)) < 0)
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	return 0;
}

static int parse_mac(const char *s, const char *from, uint8_t mac[6], struct cni_error *err)
{
	if (cnl_mac_parse(s, mac) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid args %s for MAC addr: not a MAC address (from %s)",
				  s, from);
	return 0;
}

/* The reference's precedence: args.cni > runtimeConfig.mac > CNI_ARGS MAC > config. */
static int tconf_load(const struct cni_call *c, struct tconf *t, struct cni_error *err)
{
	const json_t *j = c->conf;
	memset(t, 0, sizeof(*t));
	t->data_dir = DEFAULT_DATA_DIR;
	const char *mac = NULL, *from = "mac";
	json_t *sc = NULL, *v;
	if (cj_str(j, "dataDir", &t->data_dir, err) < 0 || cj_str(j, "mac", &mac, err) < 0 ||
	    cj_bool(j, "promisc", &t->promisc, err) < 0 || cj_int_range(j, "mtu", 0, 65535, &t->mtu, err) < 0)
		return -1;
	if (!t->data_dir || !*t->data_dir)
		t->data_dir = DEFAULT_DATA_DIR;
	if ((v = cj_get(j, "allmulti"))) {
		t->has_allmulti = true;
		if (cj_bool(j, "allmulti", &t->allmulti, err) < 0)
			return -1;
	}
	if ((v = cj_get(j, "txQLen"))) {
		t->has_txqlen = true;
		if (cj_int_range(j, "txQLen", 0, UINT32_MAX, &t->txqlen, err) < 0)
			return -1;
	}
	if ((sc = cj_get(j, "sysctl")) && load_sysctls(t, sc, "sysctl", err) < 0)
		return -1;
	const char *e = cni_call_arg(c, "MAC");
	if (e && *e)
		mac = e, from = "CNI_ARGS MAC";
	if ((v = cni_call_runtime_config(c, "mac")) && json_is_string(v) && *json_string_value(v))
		mac = json_string_value(v), from = "runtimeConfig.mac";
	/* args.cni: each key present overrides */
	json_t *a = cj_get(j, "args");
	a = a && json_is_object(a) ? cj_get(a, "cni") : NULL;
	if (a && json_is_object(a)) {
		if (load_sysctls(t, cj_get(a, "sysctl"), "args.cni.sysctl", err) < 0)
			return -1;
		const char *am = NULL;
		if (cj_str(a, "mac", &am, err) < 0 || cj_bool(a, "promisc", &t->promisc, err) < 0 ||
		    cj_int_range(a, "mtu", 0, 65535, &t->mtu, err) < 0)
			return cni_error_wrap(err, "args.cni");
		if (am)
			mac = am, from = "args.cni.mac";
		if (cj_get(a, "allmulti")) {
			t->has_allmulti = true;
			if (cj_bool(a, "allmulti", &t->allmulti, err) < 0)
				return cni_error_wrap(err, "args.cni");
		}
		if (cj_get(a, "txQLen")) {
			t->has_txqlen = true;
			if (cj_int_range(a, "txQLen", 0, UINT32_MAX, &t->txqlen, err) < 0)
				return cni_error_wrap(err, "args.cni");
		}
	}
	if (mac && *mac) {
		if (parse_mac(mac, from, t->mac, err) < 0)
			return -1;
		t->has_mac = true;
	}
	return 0;
}

/* Go's encoding/json matched "sysctl" case-insensitively into a map that
 * the reference refuses duplicates for: scan the raw top-level object and
 * decode the "sysctl" value again with duplicate keys rejected. */
static int check_duplicate_sysctls(const char *data, size_t len, struct cni_error *err)
{
	size_t i = 0;
#define SKIP_WS()                                                                                 \
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')) \
		i++
	SKIP_WS();
	if (i >= len || data[i] != '{')
		return 0;
	i++;
	for (;;) {
		SKIP_WS();
		if (i >= len || data[i] != '"')
			return 0;
		json_error_t je;
		_cleanup_json_ json_t *k = json_loadb(data + i, len - i, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &je);
		if (!k || !json_is_string(k))
			return 0;
		i += (size_t)je.position;
		SKIP_WS();
		if (i >= len || data[i] != ':')
			return 0;
		i++;
		SKIP_WS();
		bool is_sysctl = !strcasecmp(json_string_value(k), "sysctl");
		size_t flags = JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | (is_sysctl ? JSON_REJECT_DUPLICATES : 0);
		_cleanup_json_ json_t *v = json_loadb(data + i, len - i, flags, &je);
		if (!v) {
			if (is_sysctl && strstr(je.text, "duplicate"))
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "duplicated sysctl keys are not allowed");
			return 0;
		}
		i += (size_t)je.position;
		SKIP_WS();
		if (i >= len || data[i] != ',')
			return 0;
		i++;
	}
#undef SKIP_WS
}

/* Key -> path below /proc/sys (see the header comment). */
static int sysctl_rel(const char *key, const char *ifname, char *out, size_t len, struct cni_error *err)
{
	const char *dot = strchr(key, '.'), *slash = strchr(key, '/');
	bool dot_form = dot && (!slash || dot < slash);
	char buf[256];
	if (strlen(key) >= sizeof(buf))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid net sysctl key: \"%s\" (too long)", key);
	size_t n = 0;
	for (const char *p = key; *p; p++)
		buf[n++] = dot_form && *p == '.' ? '/' : dot_form && *p == '/' ? '.' : *p;
	buf[n] = '\0';
	const char *at = strstr(buf, "IFNAME");
	if (at) {
		if ((size_t)snprintf(out, len, "%.*s%s%s", (int)(at - buf), buf, ifname, at + 6) >= len)
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid net sysctl key: \"%s\" (too long)", key);
	} else {
		snprintf(out, len, "%s", buf);
	}
	/* under net/, no empty, "." or ".." component */
	bool ok = !strncmp(out, "net/", 4) && out[4];
	for (const char *p = out; ok && *p;) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			ok = false;
		p += l + (e ? 1 : 0);
		if (e && !*p)
			ok = false;
	}
	if (!ok)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid net sysctl key: \"%s\"", out);
	return 0;
}

static int check_allowlist(const struct tconf *t, struct cni_error *err)
{
	const char *path = getenv("CNI_C_TUNING_ALLOWLIST");
	if (!path || !*path)
		path = DEFAULT_ALLOWLIST;
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0; /* no file: no restriction */
		return cni_errorf_errno(err, CNI_ERR_IO, errno, "failed to read sysctl allowlist %s", path);
	}
	struct cni_regex **re = NULL;
	size_t n = 0, cap = 0;
	char line[1024], list[CNI_ERR_MSG_MAX / 2] = "";
	size_t ll = 0;
	int r = 0;
	while (r == 0 && fgets(line, sizeof(line), f)) {
		char *s = line, *e = line + strlen(line);
		while (*s == ' ' || *s == '\t')
			s++;
		while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*s)
			continue;
		if (cni_grow((void **)&re, &cap, n, sizeof(*re)) < 0) {
			r = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			break;
		}
		const char *why = NULL;
		if (!(re[n] = cni_regex_compile(s, &why))) {
			r = cni_errorf(err, CNI_ERR_INVALID_CONFIG, "sysctl allowlist %s: bad pattern \"%s\": %s", path, s,
				       why);
			break;
		}
		n++;
		int w = snprintf(list + ll, sizeof(list) - ll, "%s%s", ll ? " " : "", s);
		if (w > 0)
			ll = ll + (size_t)w < sizeof(list) ? ll + (size_t)w : sizeof(list) - 1;
	}
	fclose(f);
	for (size_t i = 0; r == 0 && i < t->n_sc; i++) {
		bool match = false;
		for (size_t k = 0; k < n && !match; k++)
			match = cni_regex_search(re[k], t->sc[i].key);
		if (!match)
			r = cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				       "Sysctl %s is not allowed. Only the following sysctls are allowed: [%s]", t->sc[i].key,
				       list);
	}
	for (size_t k = 0; k < n; k++)
		cni_regex_free(re[k]);
	free(re);
	return r;
}

/* ---- backup file -------------------------------------------------------- */

static int backup_path(const struct cni_call *c, const char *dir, char *out, size_t len, struct cni_error *err)
{
	if ((size_t)snprintf(out, len, "%s/%s_%s.json", dir, c->container_id, c->ifname) >= len)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "dataDir \"%s\" is too long", dir);
	return 0;
}

/* Same fields as the reference's file (which it reads back the same way),
 * plus who it belongs to, for GC. */
static int backup_write(const struct cni_call *c, const char *dir, const struct saved *s, struct cni_error *err)
{
	char path[PATH_MAX], m[18];
	if (backup_path(c, dir, path, sizeof(path), err) < 0)
		return -1;
	_cleanup_json_ json_t *o = json_object();
	if (!o)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	if (s->has_mac)
		json_object_set_new(o, "mac", json_string(cnl_mac_fmt(s->mac, m)));
	if (s->has_promisc)
		json_object_set_new(o, "promisc", json_boolean(s->promisc));
	if (s->mtu)
		json_object_set_new(o, "mtu", json_integer(s->mtu));
	if (s->has_allmulti)
		json_object_set_new(o, "allmulti", json_boolean(s->allmulti));
	if (s->has_txqlen)
		json_object_set_new(o, "txQLen", json_integer(s->txqlen));
	json_object_set_new(o, "cniC.network", json_string(c->net_name));
	json_object_set_new(o, "cniC.containerID", json_string(c->container_id));
	json_object_set_new(o, "cniC.ifname", json_string(c->ifname));
	_cleanup_free_ char *text = json_dumps(o, JSON_INDENT(1));
	if (!text)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	int r = cni_mkdir_p(dir, 0700);
	if (r == 0)
		r = cni_file_replace(path, text, strlen(text), false, 0600);
	if (r < 0)
		return cni_errorf_errno(err, CNI_ERR_IO, -r, "failed to save the backup of %s to %s", c->ifname, path);
	return 0;
}

/* 1 = read, 0 = no backup, -1 = unreadable (treated as none by DEL) */
static int backup_read(const char *path, struct saved *s)
{
	memset(s, 0, sizeof(*s));
	json_error_t je;
	_cleanup_json_ json_t *o = json_load_file(path, 0, &je);
	if (!o)
		return access(path, F_OK) == 0 ? -1 : 0;
	if (!json_is_object(o))
		return -1;
	json_t *v;
	if ((v = cj_get(o, "mac")) && json_is_string(v) && cnl_mac_parse(json_string_value(v), s->mac) == 0)
		s->has_mac = true;
	if ((v = cj_get(o, "promisc")) && json_is_boolean(v))
		s->has_promisc = true, s->promisc = json_is_true(v);
	if ((v = cj_get(o, "mtu")) && json_is_integer(v) && json_integer_value(v) > 0)
		s->mtu = (unsigned)json_integer_value(v);
	if ((v = cj_get(o, "allmulti")) && json_is_boolean(v))
		s->has_allmulti = true, s->allmulti = json_is_true(v);
	if ((v = cj_get(o, "txQLen")) && json_is_integer(v) && json_integer_value(v) >= 0)
		s->has_txqlen = true, s->txqlen = (unsigned)json_integer_value(v);
	return 1;
}

/* Put the saved attributes back (the reference's order: MTU, MAC, promisc,
 * allmulti, txQLen); every one is tried. 0 or -1 with the first error. */
static int restore(struct nl_sock *sk, int ifindex, const struct saved *s, struct cni_error *err)
{
	struct cni_error e = { 0 };
	int r = 0;
	if (s->mtu && cnl_link_set_mtu(sk, ifindex, s->mtu, r ? &e : err) < 0)
		r = -1;
	if (s->has_mac && cnl_link_set_mac(sk, ifindex, s->mac, r ? &e : err) < 0)
		r = -1;
	if (s->has_promisc && cnl_link_set_promisc(sk, ifindex, s->promisc, r ? &e : err) < 0)
		r = -1;
	if (s->has_allmulti && cnl_link_set_allmulti(sk, ifindex, s->allmulti, r ? &e : err) < 0)
		r = -1;
	if (s->has_txqlen && cnl_link_set_txqlen(sk, ifindex, s->txqlen, r ? &e : err) < 0)
		r = -1;
	return r;
}

/* ---- ADD ---------------------------------------------------------------- */

struct add_ctx {
	const struct cni_call *c;
	struct tconf *t;
};

static void sysctls_undo(struct tconf *t)
{
	struct cni_error ignore = { 0 };
	for (size_t i = t->n_sc; i-- > 0;)
		if (t->sc[i].written)
			(void)cni_sysctl_write(t->sc[i].rel, t->sc[i].old, &ignore);
}

/* inside the container netns */
static int write_sysctls(void *arg, struct cni_error *err)
{
	struct add_ctx *a = arg;
	struct tconf *t = a->t;
	for (size_t i = 0; i < t->n_sc; i++) {
		struct sysctl_kv *s = &t->sc[i];
		struct cni_error e = { 0 };
		if (cni_sysctl_get(s->rel, s->old, sizeof(s->old), &e) < 0) {
			sysctls_undo(t);
			if (e.code == CNI_ERR_NOT_FOUND)
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
						  "sysctl \"%s\": /proc/sys/%s does not exist in the container's network namespace",
						  s->key, s->rel);
			*err = e;
			return -1;
		}
		if (cni_sysctl_write(s->rel, s->value, &e) < 0) {
			sysctls_undo(t);
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "sysctl \"%s\": the kernel refused \"%s\" (%s)", s->key,
					  s->value, e.msg);
		}
		s->written = true;
	}
	return 0;
}

static int undo_sysctls_in(void *arg, struct cni_error *err)
{
	(void)err;
	sysctls_undo(((struct add_ctx *)arg)->t);
	return 0;
}

/* ADD and CHECK: the config (allowlist for ADD), the sysctls' paths,
 * prevResult, the netns. t is safe to free whatever happens. */
static int tconf_prepare(struct cni_call *c, struct tconf *t, bool add, int *nsfd)
{
	struct cni_error *err = &c->err;
	memset(t, 0, sizeof(*t));
	*nsfd = -1;
	if (check_duplicate_sysctls(c->stdin_data, c->stdin_len, err) < 0 || tconf_load(c, t, err) < 0 ||
	    (add && check_allowlist(t, err) < 0))
		return -1;
	for (size_t i = 0; i < t->n_sc; i++)
		if (sysctl_rel(t->sc[i].key, c->ifname, t->sc[i].rel, sizeof(t->sc[i].rel), err) < 0)
			return -1;
	if (!c->prev)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "Required prevResult missing");
	*nsfd = netns_open(c->netns, err);
	return *nsfd < 0 ? -1 : 0;
}

static int cmd_add(struct cni_call *c)
{
	struct cni_error *err = &c->err;
	struct tconf t;
	_cleanup_close_ int nsfd = -1;
	int r = tconf_prepare(c, &t, true, &nsfd);
	struct add_ctx a = { .c = c, .t = &t };
	if (r == 0 && t.n_sc)
		r = netns_run_fd(nsfd, write_sysctls, &a, err);
	if (r == 0 && wants_link_change(&t)) {
		_cleanup_nl_ struct nl_sock *sk = cnl_open_netns(nsfd, err);
		struct cnl_link l;
		struct saved s = { 0 };
		bool saved = false;
		if (!sk || cnl_link_query(sk, c->ifname, 0, &l, err) < 0) {
			r = cni_error_wrap(err, "failed to get \"%s\"", c->ifname);
		} else {
			/* what will change, as it is now */
			if (t.has_mac && l.has_mac)
				s.has_mac = true, memcpy(s.mac, l.mac, 6);
			if (t.promisc)
				s.has_promisc = true, s.promisc = l.flags & IFF_PROMISC;
			if (t.mtu)
				s.mtu = l.mtu;
			if (t.has_allmulti)
				s.has_allmulti = true, s.allmulti = l.flags & IFF_ALLMULTI;
			if (t.has_txqlen)
				s.has_txqlen = true, s.txqlen = l.txqlen;
			r = backup_write(c, t.data_dir, &s, err);
			saved = r == 0;
		}
		if (r == 0 && t.has_mac && cnl_link_set_mac(sk, l.ifindex, t.mac, err) < 0)
			r = -1;
		if (r == 0 && t.promisc && cnl_link_set_promisc(sk, l.ifindex, true, err) < 0)
			r = -1;
		if (r == 0 && t.mtu && cnl_link_set_mtu(sk, l.ifindex, (unsigned)t.mtu, err) < 0)
			r = -1;
		if (r == 0 && t.has_allmulti && cnl_link_set_allmulti(sk, l.ifindex, t.allmulti, err) < 0)
			r = -1;
		if (r == 0 && t.has_txqlen && cnl_link_set_txqlen(sk, l.ifindex, (unsigned)t.txqlen, err) < 0)
			r = -1;
		if (r < 0 && saved) {
			struct cni_error ignore = { 0 };
			(void)restore(sk, l.ifindex, &s, &ignore);
			char path[PATH_MAX];
			if (backup_path(c, t.data_dir, path, sizeof(path), &ignore) == 0)
				(void)cni_file_remove(path);
		}
		if (r < 0 && t.n_sc) {
			struct cni_error ignore = { 0 };
			(void)netns_run_fd(nsfd, undo_sysctls_in, &a, &ignore);
		}
	}
	if (r == 0) {
		c->result = cni_result_dup(c->prev);
		if (!c->result)
			r = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	if (r == 0 && t.has_mac) {
		char m[18];
		cnl_mac_fmt(t.mac, m);
		for (size_t i = 0; i < c->result->n_interfaces; i++) {
			struct cni_interface *ifc = &c->result->interfaces[i];
			if (!ifc->name || strcmp(ifc->name, c->ifname))
				continue;
			char *dup = strdup(m);
			if (!dup) {
				r = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
				break;
			}
			free(ifc->mac);
			ifc->mac = dup;
		}
	}
	tconf_free(&t);
	return r;
}

/* ---- DEL ---------------------------------------------------------------- */

static int cmd_del(struct cni_call *c)
{
	const char *dir = DEFAULT_DATA_DIR;
	struct cni_error ignore = { 0 };
	if (cj_str(c->conf, "dataDir", &dir, &c->err) < 0)
		return -1;
	if (!dir || !*dir)
		dir = DEFAULT_DATA_DIR;
	char path[PATH_MAX];
	if (backup_path(c, dir, path, sizeof(path), &c->err) < 0)
		return -1;
	struct saved s;
	int have = backup_read(path, &s);
	if (have == 0) {
		(void)cni_file_remove(path); /* a .tmp a kill left */
		return 0;
	}
	if (have < 0 || !*c->netns || c->netns_gone) {
		(void)cni_file_remove(path);
		return 0;
	}
	_cleanup_close_ int nsfd = netns_open(c->netns, &ignore);
	if (nsfd < 0) {
		(void)cni_file_remove(path);
		return 0;
	}
	_cleanup_nl_ struct nl_sock *sk = cnl_open_netns(nsfd, &ignore);
	struct cnl_link l;
	if (!sk)
		return 0; /* keep the backup: the next DEL tries again */
	if (cnl_link_query(sk, c->ifname, 0, &l, &ignore) < 0) {
		if (ignore.code == CNI_ERR_NOT_FOUND)
			(void)cni_file_remove(path); /* nothing left to restore */
		return 0;
	}
	/* as the reference: on a failed restore the backup stays for the next DEL */
	if (restore(sk, l.ifindex, &s, &ignore) == 0)
		(void)cni_file_remove(path);
	return 0;
}

/* ---- CHECK -------------------------------------------------------------- */

struct check_ctx {
	struct tconf *t;
};

static int check_sysctls(void *arg, struct cni_error *err)
{
	struct tconf *t = ((struct check_ctx *)arg)->t;
	for (size_t i = 0; i < t->n_sc; i++) {
		char cur[256];
		if (cni_sysctl_get(t->sc[i].rel, cur, sizeof(cur), err) < 0)
			return -1;
		/* the kernel ends the value with a newline; compare without it */
		if (strcmp(cur, t->sc[i].value))
			return cni_errorf(err, CNI_ERR_CHECK_FAILED,
					  "Error: Tuning configured value of /proc/sys/%s is %s, current value is %s",
					  t->sc[i].rel, t->sc[i].value, cur);
	}
	return 0;
}

static int cmd_check(struct cni_call *c)
{
	struct cni_error *err = &c->err;
	struct tconf t;
	_cleanup_close_ int nsfd = -1;
	int r = tconf_prepare(c, &t, false, &nsfd);
	/* the link first: with it gone its sysctls are gone too */
	_cleanup_nl_ struct nl_sock *sk = r == 0 ? cnl_open_netns(nsfd, err) : NULL;
	struct cnl_link l;
	if (r == 0 && !sk)
		r = -1;
	if (r == 0 && cnl_link_query(sk, c->ifname, 0, &l, err) < 0)
		r = cni_errorf(err, CNI_ERR_CHECK_FAILED, "Cannot find container link %s", c->ifname);
	struct check_ctx cc = { .t = &t };
	if (r == 0 && t.n_sc)
		r = netns_run_fd(nsfd, check_sysctls, &cc, err);
	const char *ifn = c->ifname;
	if (r == 0 && t.has_mac && (!l.has_mac || memcmp(l.mac, t.mac, 6))) {
		char a[18], b[18];
		r = cni_errorf(err, CNI_ERR_CHECK_FAILED, "Error: Tuning configured Ethernet of %s is %s, current value is %s",
			       ifn, cnl_mac_fmt(t.mac, a), l.has_mac ? cnl_mac_fmt(l.mac, b) : "none");
	}
	/* as the reference: promisc off in the config means it must be off */
	if (r == 0 && t.promisc != !!(l.flags & IFF_PROMISC))
		r = cni_errorf(err, CNI_ERR_CHECK_FAILED, "Error: Tuning link %s configured promisc is %s, current value is %d",
			       ifn, t.promisc ? "true" : "false", !!(l.flags & IFF_PROMISC));
	if (r == 0 && t.mtu && (unsigned)t.mtu != l.mtu)
		r = cni_errorf(err, CNI_ERR_CHECK_FAILED, "Error: Tuning configured MTU of %s is %lld, current value is %u",
			       ifn, t.mtu, l.mtu);
	if (r == 0 && t.has_allmulti && t.allmulti != !!(l.flags & IFF_ALLMULTI))
		r = cni_errorf(err, CNI_ERR_CHECK_FAILED,
			       "Error: Tuning configured all-multicast mode of %s is %s, current value is %s", ifn,
			       t.allmulti ? "true" : "false", l.flags & IFF_ALLMULTI ? "true" : "false");
	if (r == 0 && t.has_txqlen && (unsigned)t.txqlen != l.txqlen)
		r = cni_errorf(err, CNI_ERR_CHECK_FAILED,
			       "Error: Tuning configured Transmit Queue Length of %s is %lld, current value is %u", ifn,
			       t.txqlen, l.txqlen);
	tconf_free(&t);
	return r;
}

/* ---- GC, STATUS --------------------------------------------------------- */

/* Backups written by this plugin name their network and attachment; the
 * ones of this network whose attachment is not in the valid list go. */
static int cmd_gc(struct cni_call *c)
{
	const char *dir = DEFAULT_DATA_DIR;
	if (cj_str(c->conf, "dataDir", &dir, &c->err) < 0)
		return -1;
	if (!dir || !*dir)
		dir = DEFAULT_DATA_DIR;
	struct cni_attachment *valid = NULL;
	size_t n_valid = 0;
	bool present = false;
	if (cni_gc_valid_attachments(c->conf, &valid, &n_valid, &present, &c->err) < 0)
		return -1;
	DIR *d = present ? opendir(dir) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		bool tmp = cni_file_is_tmp(de->d_name);
		if (de->d_name[0] == '.' || l < 6 || (!tmp && strcmp(de->d_name + l - 5, ".json")))
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		json_error_t je;
		_cleanup_json_ json_t *o = json_load_file(path, 0, &je);
		json_t *net = o ? json_object_get(o, "cniC.network") : NULL;
		json_t *cid = o ? json_object_get(o, "cniC.containerID") : NULL;
		json_t *ifn = o ? json_object_get(o, "cniC.ifname") : NULL;
		if (!json_is_string(net) || !json_is_string(cid) || !json_is_string(ifn) ||
		    strcmp(json_string_value(net), c->net_name))
			continue; /* not ours, or another network's */
		if (!cni_attachment_valid(valid, n_valid, json_string_value(cid), json_string_value(ifn)))
			(void)unlink(path);
	}
	if (d)
		closedir(d);
	cni_attachments_free(valid, n_valid);
	return 0;
}

static int cmd_status(struct cni_call *c)
{
	(void)c;
	return 0;
}

static const char *const args_keys[] = { "MAC", NULL };

static const struct cni_plugin plugin = {
	.name = "tuning",
	.about = "changes sysctls and link attributes of a container interface",
	.args_keys = args_keys,
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
	.status = cmd_status,
};

int main(int argc, char **argv)
{
	return cni_plugin_main(&plugin, argc, argv);
}
