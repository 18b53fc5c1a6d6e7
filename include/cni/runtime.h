/* The runtime side of CNI (what libcni does for containerd, CRI-O, podman):
 * load a network configuration list by name, build each plugin's stdin,
 * run the plugins in order with prevResult chaining, keep the result cache
 * libcni keeps, GC and STATUS. Used by tools/cnitool.
 *
 * Behaviour follows libcni (containernetworking/cni, libcni/api.go and
 * conf.go) so the two can share a node: same cache files, same stdin, same
 * environment. Deviations are deliberate and listed in tools/cnitool/README.md. */
#ifndef CNI_RUNTIME_H
#define CNI_RUNTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cni/common.h"
#include "cni/plugin.h"

/* Highest spec version this runtime speaks (libcni's version.Current()). */
#define CNI_RT_VERSION "1.1.0"
/* libcni's default cache directory; results live in <dir>/results. */
#define CNI_RT_CACHE_DIR "/var/lib/cni"

/* ---- configuration lists ------------------------------------------------ */

struct cni_rt_plugin {
	json_t *conf;     /* the plugin object as written (owned) */
	const char *type; /* its `type` (borrowed from conf) */
	const char *name; /* its own `name`, or NULL (only used in error text) */
};

struct cni_netconf_list {
	char *name;
	char *version; /* selected: highest of cniVersions U {cniVersion} <= 1.1.0 */
	bool disable_check, disable_gc, load_only_inlined;
	struct cni_rt_plugin *plugins;
	size_t n_plugins;
	/* the list's bytes as libcni caches them ("config" in the cache file):
	 * the .conflist file content, or the up-converted list of a .conf */
	char *bytes;
	size_t len;
};

void cni_netconf_list_free(struct cni_netconf_list *l);
static inline void cni_netconf_list_freep(struct cni_netconf_list **l) { if (*l) cni_netconf_list_free(*l); }
#define _cleanup_netconf_list_ _cleanup_(cni_netconf_list_freep)

/* Parse a conflist (libcni NetworkConfFromBytes): name, cniVersion,
 * cniVersions, disableCheck/disableGC/loadOnlyInlinedPlugins (bool or
 * "true"/"false"), plugins (each needs a `type`). A list without `plugins`
 * is accepted here (plugins may come from <dir>/<name>/<x>.conf). code 7. */
int cni_netconf_list_parse(const char *data, size_t len, struct cni_netconf_list **out, struct cni_error *err);
/* Up-convert a single-plugin .conf into a one-plugin list (libcni ConfListFromConf). */
int cni_netconf_list_from_conf(const char *data, size_t len, struct cni_netconf_list **out, struct cni_error *err);
/* libcni LoadConfList: the sorted .conflist files of dir, first whose name
 * matches (plus <dir>/<name>/<x>.conf unless loadOnlyInlinedPlugins), else
 * the sorted .conf/.json files. code 7 when not found. */
int cni_netconf_list_load(const char *dir, const char *name, struct cni_netconf_list **out, struct cni_error *err);

/* ---- one invocation's runtime parameters -------------------------------- */

struct cni_rt_conf {
	const char *container_id;
	const char *netns;
	const char *ifname;
	const struct cni_arg *args; /* CNI_ARGS pairs, in order */
	size_t n_args;
	const json_t *cap_args;     /* capability args object, or NULL */
};

struct cni_runtime {
	const char *path;      /* CNI_PATH, ':'-separated */
	const char *cache_dir; /* NULL = CNI_RT_CACHE_DIR */
};

/* The exact stdin libcni gives a plugin: the plugin object with `name`,
 * `cniVersion` (the list's), `prevResult` (when given) injected, and
 * `runtimeConfig` replaced by the capability args the plugin declares and
 * the caller supplies (left alone when there are none). Keys are sorted
 * like Go's map marshalling; prevResult keeps its field order. */
char *cni_rt_build_stdin(const struct cni_netconf_list *l, const struct cni_rt_plugin *p, const json_t *prev,
			 const struct cni_rt_conf *rt, struct cni_error *err);

/* ADD: plugins in order, each gets the previous one's result; the final
 * result is cached and returned (in its own version). Nothing is cached
 * when a plugin fails; the error names it: plugin type="X" failed (add): ... */
int cni_rt_add(const struct cni_runtime *r, const struct cni_netconf_list *l, const struct cni_rt_conf *rt,
	       json_t **result, struct cni_error *err);
/* CHECK: error below 0.4.0, no-op with disableCheck, else plugins in order
 * with the cached result (converted to the list version) as prevResult. */
int cni_rt_check(const struct cni_runtime *r, const struct cni_netconf_list *l, const struct cni_rt_conf *rt,
		 struct cni_error *err);
/* DEL: plugins in reverse with the cached result as prevResult (>= 0.4.0);
 * an unreadable cache is removed and DEL goes on without prevResult; the
 * cache is removed after success. */
int cni_rt_del(const struct cni_runtime *r, const struct cni_netconf_list *l, const struct cni_rt_conf *rt,
	       struct cni_error *err);
/* STATUS: no-op below 1.1.0, else each plugin in order, stop at the first error. */
int cni_rt_status(const struct cni_runtime *r, const struct cni_netconf_list *l, struct cni_error *err);
/* GC: no-op with disableGC. DEL every cached attachment of the network not
 * in `valid` (all of them when valid == NULL), then (>= 1.1.0) GC to every
 * plugin, with `cni.dev/valid-attachments` and the legacy
 * `cni.dev/attachments` when valid != NULL. Continues on errors and reports
 * them all at the end. */
int cni_rt_gc(const struct cni_runtime *r, const struct cni_netconf_list *l, const struct cni_attachment *valid,
	      size_t n_valid, struct cni_error *err);
/* VERSION of each plugin: a JSON array of {"type": ..., "version": <answer>}. */
int cni_rt_version(const struct cni_runtime *r, const struct cni_netconf_list *l, json_t **out,
		   struct cni_error *err);

/* ---- result cache (libcni's cniCacheV1) --------------------------------- */

#define CNI_CACHE_KIND "cniCacheV1"

struct cni_cache_entry {
	char *container_id;
	char *ifname;
	char *net_name;
	char *netns;       /* may be NULL (libcni 1.1.x does not write it) */
	char *config;      /* decoded conflist bytes */
	size_t config_len;
	struct cni_arg *args;
	size_t n_args;
	json_t *cap_args;  /* object or NULL */
	json_t *result;    /* object or NULL */
};

void cni_cache_entry_clear(struct cni_cache_entry *e);

/* <cache_dir>/results/<net>-<cid>-<ifname> (malloc'd), NULL with err when a
 * part is empty. */
char *cni_cache_path(const char *cache_dir, const char *net, const char *cid, const char *ifname,
		     struct cni_error *err);
/* The file's JSON, field order as libcni writes it. */
char *cni_cache_encode(const struct cni_cache_entry *e, struct cni_error *err);
/* Parse a cache file. code 6 when it is not a cniCacheV1 object. */
int cni_cache_decode(const char *data, size_t len, struct cni_cache_entry *e, struct cni_error *err);
/* Write atomically (dir 0700, file 0600). */
int cni_cache_write(const char *cache_dir, const struct cni_cache_entry *e, struct cni_error *err);
/* Read; returns 1 and fills e, 0 when there is no file, -1 on a bad file. */
int cni_cache_read(const char *cache_dir, const char *net, const char *cid, const char *ifname,
		   struct cni_cache_entry *e, struct cni_error *err);
int cni_cache_remove(const char *cache_dir, const char *net, const char *cid, const char *ifname);
/* All readable cniCacheV1 entries (sorted by file name) whose networkName
 * is `net` (any when NULL). Unreadable files are skipped, as libcni does. */
int cni_cache_list(const char *cache_dir, const char *net, struct cni_cache_entry **out, size_t *n,
		   struct cni_error *err);
void cni_cache_entries_free(struct cni_cache_entry *e, size_t n);

/* ---- small helpers (exposed for cnitool and the unit tests) ------------- */

/* Standard base64 with padding (Go's []byte JSON encoding). */
char *cni_base64_encode(const void *data, size_t len);
/* NULL on bad input. */
void *cni_base64_decode(const char *s, size_t *len);

#define CNI_SHA512_LEN 64
void cni_sha512(const void *data, size_t len, uint8_t out[CNI_SHA512_LEN]);

/* cnitool's CNI_ARGS rule: cni_args_parse (every pair exactly one '=')
 * plus a non-empty key and value. code 4, "invalid CNI_ARGS pair" naming
 * the bad pair. */
int cni_rt_parse_cni_args(const char *s, struct cni_arg **out, size_t *n, struct cni_error *err);
/* CAP_ARGS: a JSON object (or empty/"null" = none). code 6. */
int cni_rt_parse_cap_args(const char *s, json_t **out, struct cni_error *err);
/* filepath.Abs: make absolute against the cwd and clean it. */
char *cni_rt_abs_path(const char *p);
/* "cnitool-" + hex of the first 10 bytes of SHA-512(abs netns path). */
void cni_rt_container_id(const char *netns_abs, char out[8 + 20 + 1]);

/* A copy of v with object keys sorted byte-wise at every level, as Go
 * marshals map[string]interface{}; values under key `keep` at the top level
 * are copied as they are. */
json_t *cni_json_sorted_copy(const json_t *v, const char *keep);

#endif
