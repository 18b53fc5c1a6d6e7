/* IPAM: host-local's configuration, ranges and allocator, its on-disk
 * store, static's configuration, and resolv.conf parsing.
 *
 * The store keeps the reference host-local's format so either plugin can
 * take over a live node: <dataDir>/<net>/<ip> holding "<cid>\r\n<ifname>"
 * (or only "<cid>" when written by old versions), last_reserved_ip.<N> and
 * `lock` (flock'ed around every operation). Our own bookkeeping lives in
 * <dataDir>/<net>/.cni-c/ (see store.c for what and why). */
#ifndef CNI_IPAM_H
#define CNI_IPAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cni/common.h"
#include "cni/ip.h"
#include "cni/plugin.h"
#include "cni/result.h"

#define IPAM_DEFAULT_DATA_DIR "/var/lib/cni/networks"

/* ---- ranges ---- */

/* One range of a range set, canonicalised: subnet is a network address,
 * start/end/gateway are always set after ipam_range_canonicalize(). */
struct ipam_range {
	struct cni_cidr subnet;
	struct cni_ip start, end, gateway;
};

/* A pool of disjoint same-family ranges; one address is allocated per set. */
struct ipam_range_set {
	struct ipam_range *ranges;
	size_t n;
};

/* Fill defaults and validate (the reference's rules and messages). */
int ipam_range_canonicalize(struct ipam_range *r, struct cni_error *err);
/* ip inside the subnet and within start..end. */
bool ipam_range_contains(const struct ipam_range *r, const struct cni_ip *ip);
int ipam_range_set_canonicalize(struct ipam_range_set *s, struct cni_error *err);
/* The range of s holding ip, or NULL. */
const struct ipam_range *ipam_range_set_find(const struct ipam_range_set *s, const struct cni_ip *ip);
bool ipam_range_set_overlaps(const struct ipam_range_set *a, const struct ipam_range_set *b);
/* "start-end,start-end" into buf. */
const char *ipam_range_set_fmt(const struct ipam_range_set *s, char *buf, size_t len);
void ipam_range_set_free(struct ipam_range_set *s);

/* The reference's round-robin iterator: starts after `last` when it lies in
 * the set (else at the first range's start), walks each range from start
 * to end, moves on to the next range, wraps around, skips gateways and
 * stops when it comes back to where it started. */
struct ipam_iter {
	const struct ipam_range_set *set;
	size_t idx;
	struct cni_ip cur, first;
	bool have_cur, have_first;
};
void ipam_iter_init(struct ipam_iter *it, const struct ipam_range_set *set, const struct cni_ip *last);
/* Next candidate; false when the set has been walked completely. */
bool ipam_iter_next(struct ipam_iter *it, struct cni_ip *ip, const struct ipam_range **range);

/* IPv4-mapped IPv6 becomes IPv4 (Go's To4 canonicalisation). */
void ipam_ip_canon(struct cni_ip *ip);

/* ---- configuration ---- */

/* Routes of an `ipam.routes` list (dst, gw, mtu, advmss, priority, table, scope). */
int ipam_routes_parse(const json_t *arr, struct cni_route **out, size_t *n, struct cni_error *err);

struct ipam_hl_config {
	const char *data_dir;       /* borrowed from the config JSON */
	const char *resolv_conf;    /* borrowed, NULL when unset */
	struct ipam_range_set *sets;
	size_t n_sets;
	struct cni_ip *requested;   /* in order: CNI_ARGS IP, args.cni.ips, runtimeConfig.ips */
	size_t n_requested;
	struct cni_route *routes;
	size_t n_routes;
};

/* Parse and validate host-local's configuration from the whole network
 * config. `version` is the config's cniVersion; `args_ip` the CNI_ARGS IP
 * value or NULL. Errors carry the reference's message texts. */
int ipam_hl_config_parse(const json_t *conf, const char *version, const char *args_ip,
			 struct ipam_hl_config *out, struct cni_error *err);
void ipam_hl_config_free(struct ipam_hl_config *c);

/* static: addresses (with gateways), routes and dns, after the reference's
 * precedence: runtimeConfig.ips > args.cni.ips > ipam.addresses + CNI_ARGS. */
struct ipam_static_addr {
	struct cni_cidr address;
	struct cni_ip gateway;      /* family 0 = none */
};
struct ipam_static_config {
	struct ipam_static_addr *addrs;
	size_t n_addrs;
	struct cni_route *routes;
	size_t n_routes;
	struct cni_dns dns;
};
int ipam_static_config_parse(const json_t *conf, const char *version, const char *args_ip,
			     const char *args_gateway, struct ipam_static_config *out, struct cni_error *err);
void ipam_static_config_free(struct ipam_static_config *c);

/* resolv.conf: nameserver, domain, search (all words), options (all words);
 * lines starting with # or ; are comments. */
int ipam_resolv_conf_parse(const char *path, struct cni_dns *out, struct cni_error *err);
int ipam_resolv_conf_parse_buf(const char *buf, size_t len, struct cni_dns *out, struct cni_error *err);

/* ---- store ---- */

/* last_reserved_ip.<i> files covered by the index stamp (at least this many,
 * more when the configuration has more range sets) */
#define IPAM_STAMP_SETS 8

struct ipam_store {
	int root_fd;     /* <dataDir>/<net> */
	int meta_fd;     /* <dataDir>/<net>/.cni-c */
	int lock_fd;
	bool locked;
	bool index_ok;   /* index verified fresh under the current lock */
	unsigned tmp_seq;
	size_t n_sets;   /* range sets of the config: their last_reserved_ip.N are in the index stamp */
	char *path;      /* for messages */
	int stamp_fd;    /* .cni-c/stamp, opened once under the lock and rewritten in place */
	long stamp_size; /* its size on disk, -1 unknown */
	/* last_reserved_ip.<i> contents read under the current lock (they are in
	 * the stamp and are the round-robin hints): read once, updated on write */
	bool last_cached;
	char last[IPAM_STAMP_SETS][64];
	unsigned spares; /* inodes kept in .cni-c/spare.<0..spares-1> for reuse (valid with index_ok) */
};

/* Open (creating as needed) <dataDir>/<net>. `net` must be a single path
 * component; the network directory must not be a symlink. n_sets is the
 * number of range sets of the configuration. */
int ipam_store_open(struct ipam_store *s, const char *data_dir, const char *net, size_t n_sets,
		    struct cni_error *err);
void ipam_store_close(struct ipam_store *s);
int ipam_store_lock(struct ipam_store *s, struct cni_error *err);
void ipam_store_unlock(struct ipam_store *s);

/* Make sure the attachment index matches the IP files (rebuild it from the
 * files when it is missing or when another writer changed the directory).
 * Called by the operations below; needs the lock. */
int ipam_store_index_prepare(struct ipam_store *s, bool will_modify, struct cni_error *err);
/* Record that the index is consistent with the directory again (after
 * changes under the lock). */
int ipam_store_index_commit(struct ipam_store *s, struct cni_error *err);

/* Reserve ip for (cid, ifname): *reserved false when it is taken already.
 * The file appears complete or not at all. Updates last_reserved_ip.<set>. */
int ipam_store_reserve(struct ipam_store *s, const char *cid, const char *ifname, const struct cni_ip *ip,
		       int set_idx, bool *reserved, struct cni_error *err);
/* Last reserved ip of a range set; 0 with out->family 0 when none. */
int ipam_store_last_reserved(struct ipam_store *s, int set_idx, struct cni_ip *out);
/* Addresses held by (cid, ifname); with legacy, also those held by files
 * naming only cid. malloc'd array. */
int ipam_store_find(struct ipam_store *s, const char *cid, const char *ifname, bool legacy,
		    struct cni_ip **out, size_t *n, struct cni_error *err);
/* Release what (cid, ifname) holds; when it holds nothing, release legacy
 * files of cid (the reference's DEL). *released counts removed files. */
int ipam_store_release(struct ipam_store *s, const char *cid, const char *ifname, size_t *released,
		       struct cni_error *err);
/* Release one address if (cid, ifname) holds it. */
int ipam_store_release_ip(struct ipam_store *s, const char *cid, const char *ifname, const struct cni_ip *ip,
			  struct cni_error *err);
/* GC: release every reservation whose attachment is not in `valid`
 * (legacy files: whose container id is in no valid attachment). */
int ipam_store_gc(struct ipam_store *s, const struct cni_attachment *valid, size_t n_valid, size_t *released,
		  struct cni_error *err);
/* Is ip reserved (by anyone)? */
int ipam_store_is_reserved(struct ipam_store *s, const struct cni_ip *ip, bool *reserved, struct cni_error *err);
/* Can the store be written? (creates and removes a scratch file) */
int ipam_store_probe_writable(struct ipam_store *s, struct cni_error *err);

/* ---- allocator ---- */

/* host-local ADD on an open store: one address per range set (requested
 * ones first matched to their set), all-or-nothing; result->ips filled in
 * set order with gateways. Takes the lock itself. */
int ipam_allocate(struct ipam_store *s, const struct ipam_hl_config *c, const char *cid, const char *ifname,
		  struct cni_result *result, struct cni_error *err);
/* First free address of a set (STATUS): *found false when the set is full. */
int ipam_set_has_free(struct ipam_store *s, const struct ipam_range_set *set, int set_idx, bool *found,
		      struct cni_error *err);

#endif
