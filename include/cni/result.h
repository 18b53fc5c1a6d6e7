/* The CNI result model: one in-memory form (a superset of 1.1.0) with
 * decoders and encoders for every result version 0.1.0 ... 1.1.0. */
#ifndef CNI_RESULT_H
#define CNI_RESULT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cni/common.h"
#include "cni/ip.h"

struct cni_interface {
	char *name;
	char *mac;        /* may be NULL */
	char *sandbox;    /* NULL or "" for host side */
	int mtu;          /* 0 = unset (1.1.0) */
	char *socket_path;/* 1.1.0 */
	char *pci_id;     /* 1.1.0 */
};

struct cni_ipconfig {
	struct cni_cidr address;
	struct cni_ip gateway;  /* family 0 = none */
	int interface;          /* index into interfaces, -1 = not set */
};

struct cni_route {
	struct cni_cidr dst;
	struct cni_ip gw;       /* family 0 = none */
	int mtu, advmss, priority, table, scope;  /* 1.1.0; *_set say which are present */
	bool mtu_set, advmss_set, priority_set, table_set, scope_set;
};

struct cni_dns {
	char **nameservers; size_t n_nameservers;
	char *domain;
	char **search; size_t n_search;
	char **options; size_t n_options;
};

struct cni_result {
	struct cni_interface *interfaces; size_t n_interfaces, cap_interfaces;
	struct cni_ipconfig *ips; size_t n_ips, cap_ips;
	struct cni_route *routes; size_t n_routes, cap_routes;
	struct cni_dns dns;
};

/* Versions. */
extern const char *const cni_all_versions[]; /* NULL-terminated, 0.1.0 ... 1.1.0 */
/* Compare dotted versions; -2 if either is not a valid version. */
int cni_version_cmp(const char *a, const char *b);
bool cni_version_valid(const char *v);
/* Is v one of the result versions this library can encode? */
bool cni_version_known(const char *v);

struct cni_result *cni_result_new(void);
void cni_result_free(struct cni_result *r);
static inline void cni_result_freep(struct cni_result **r) { if (*r) cni_result_free(*r); }
#define _cleanup_result_ _cleanup_(cni_result_freep)
struct cni_result *cni_result_dup(const struct cni_result *r);

/* Builders; return index or -1 on OOM. Strings are copied. */
int cni_result_add_interface(struct cni_result *r, const char *name, const char *mac, const char *sandbox);
int cni_result_add_ip(struct cni_result *r, const struct cni_cidr *addr, const struct cni_ip *gw, int iface);
int cni_result_add_route(struct cni_result *r, const struct cni_route *route);
void cni_dns_free(struct cni_dns *d);
int cni_dns_copy(struct cni_dns *dst, const struct cni_dns *src);
bool cni_dns_empty(const struct cni_dns *d);
/* Parse a `dns` object ({nameservers, domain, search, options}). */
int cni_dns_from_json(const json_t *j, struct cni_dns *out, struct cni_error *err);
/* True when a netconf `dns` object has any field at all (even empty lists). */
bool cni_dns_json_present(const json_t *j);

/* Decode a result written in `version` (the cniVersion inside the object
 * wins when present). code 6 on malformed input, 1 on unknown version. */
struct cni_result *cni_result_decode(const json_t *j, const char *version, struct cni_error *err);
/* Encode in `version`. Conversion rules of the reference: 0.1.0/0.2.0 keep
 * the first address of each family; 0.3.x/0.4.0 add ips[].version and drop
 * 1.1.0 interface fields; 1.0.0 drops 1.1.0 interface fields. */
json_t *cni_result_encode(const struct cni_result *r, const char *version, struct cni_error *err);

/* 0.1.0/0.2.0 carry at most one address per family. Fails (code 1) with the
 * reference's message when r has more and version < 0.3.0. */
int cni_result_check_version_capacity(const struct cni_result *r, const char *version, struct cni_error *err);

/* Index of the interface named `name` with a sandbox, or -1. */
int cni_result_find_interface(const struct cni_result *r, const char *name, bool need_sandbox);

#endif
