/* host-local configuration: range sets (ranges, legacy top-level range,
 * runtimeConfig.ipRanges), requested addresses, routes, dataDir, resolvConf. */
#include <string.h>

#include "cni/ipam.h"
#include "cni/json.h"

void ipam_hl_config_free(struct ipam_hl_config *c)
{
	for (size_t i = 0; i < c->n_sets; i++)
		ipam_range_set_free(&c->sets[i]);
	free(c->sets);
	free(c->requested);
	free(c->routes);
	memset(c, 0, sizeof(*c));
}

int ipam_routes_parse(const json_t *arr, struct cni_route **out, size_t *n, struct cni_error *err)
{
	*out = NULL;
	*n = 0;
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid value for \"routes\": expected an array");
	size_t len = json_array_size(arr);
	if (!len)
		return 0;
	struct cni_route *rs = cni_xcalloc(len, sizeof(*rs));
	if (!rs)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < len; i++) {
		const json_t *rj = json_array_get(arr, i);
		struct cni_route *rt = &rs[i];
		char repr[128];
		if (!json_is_object(rj)) {
			free(rs);
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid route %zu: %s (expected an object)", i,
					  cj_repr(rj, repr, sizeof(repr)));
		}
		const char *dst = NULL;
		if (cj_str(rj, "dst", &dst, err) < 0 || cj_ip(rj, "gw", &rt->gw, err) < 0) {
			free(rs);
			return cni_error_wrap(err, "invalid route %zu", i);
		}
		if (!dst || cni_cidr_parse(dst, &rt->dst) < 0) {
			free(rs);
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid route %zu: \"dst\" %s is not a CIDR", i,
					  dst ? dst : "is missing and");
		}
		struct {
			const char *k;
			int *v;
			bool *set;
		} ints[] = {
			{ "mtu", &rt->mtu, &rt->mtu_set },
			{ "advmss", &rt->advmss, &rt->advmss_set },
			{ "priority", &rt->priority, &rt->priority_set },
			{ "table", &rt->table, &rt->table_set },
			{ "scope", &rt->scope, &rt->scope_set },
		};
		for (size_t k = 0; k < ARRAY_SIZE(ints); k++) {
			long long x = 0;
			if (cj_int_range(rj, ints[k].k, -2147483647LL, 2147483647LL, &x, err) < 0) {
				free(rs);
				return cni_error_wrap(err, "invalid route %zu", i);
			}
			if (cj_get(rj, ints[k].k)) {
				*ints[k].v = (int)x;
				*ints[k].set = true;
			}
		}
		/* omitempty in the reference's types: zero means absent */
		rt->mtu_set = rt->mtu_set && rt->mtu;
		rt->advmss_set = rt->advmss_set && rt->advmss;
		rt->priority_set = rt->priority_set && rt->priority;
	}
	*out = rs;
	*n = len;
	return 0;
}

static int parse_range(const json_t *o, struct ipam_range *r, struct cni_error *err)
{
	memset(r, 0, sizeof(*r));
	char repr[128];
	if (!json_is_object(o))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid range %s (expected an object)",
				  cj_repr(o, repr, sizeof(repr)));
	if (cj_cidr(o, "subnet", &r->subnet, err) < 0 || cj_ip(o, "rangeStart", &r->start, err) < 0 ||
	    cj_ip(o, "rangeEnd", &r->end, err) < 0 || cj_ip(o, "gateway", &r->gateway, err) < 0)
		return -1;
	return 0;
}

static int push_set(struct ipam_hl_config *c, size_t *cap, struct ipam_range_set *s, struct cni_error *err)
{
	if (cni_grow((void **)&c->sets, cap, c->n_sets, sizeof(*c->sets)) < 0) {
		ipam_range_set_free(s);
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	c->sets[c->n_sets++] = *s;
	return 0;
}

/* Append the range sets of a `ranges`-shaped array. */
static int parse_range_sets(const json_t *arr, const char *what, struct ipam_hl_config *c, size_t *cap,
			    struct cni_error *err)
{
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid value for \"%s\": expected a list of range sets",
				  what);
	size_t i;
	json_t *sj;
	json_array_foreach(arr, i, sj) {
		if (!json_is_array(sj))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
					  "invalid value for \"%s\": range set %zu is not a list of ranges", what, i);
		struct ipam_range_set s = { 0 };
		size_t n = json_array_size(sj);
		if (n && !(s.ranges = cni_xcalloc(n, sizeof(*s.ranges))))
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		for (size_t k = 0; k < n; k++) {
			if (parse_range(json_array_get(sj, k), &s.ranges[k], err) < 0) {
				ipam_range_set_free(&s);
				return cni_error_wrap(err, "invalid value for \"%s\"", what);
			}
			s.n++;
		}
		if (push_set(c, cap, &s, err) < 0)
			return -1;
	}
	return 0;
}

static int push_requested(struct ipam_hl_config *c, size_t *cap, const char *s, const char *what,
			  struct cni_error *err)
{
	struct cni_cidr cidr;
	if (cni_ip_or_cidr_parse(s, &cidr, NULL) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "cannot understand ip: \"%s\" in %s", s, what);
	ipam_ip_canon(&cidr.ip);
	if (cni_grow((void **)&c->requested, cap, c->n_requested, sizeof(*c->requested)) < 0)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	c->requested[c->n_requested++] = cidr.ip;
	return 0;
}

static int push_requested_list(struct ipam_hl_config *c, size_t *cap, const json_t *arr, const char *what,
			       struct cni_error *err)
{
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid value for \"%s\": expected a list of addresses",
				  what);
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid value for \"%s\": entry %zu is not a string",
					  what, i);
		if (push_requested(c, cap, json_string_value(v), what, err) < 0)
			return -1;
	}
	return 0;
}

static int hl_parse(const json_t *conf, const char *version, const char *args_ip, struct ipam_hl_config *c,
		    struct cni_error *err)
{
	json_t *ipam = NULL, *rc = NULL, *args = NULL, *acni = NULL;
	if (cj_object(conf, "ipam", &ipam, err) < 0)
		return -1;
	if (!ipam)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "IPAM config missing 'ipam' key");
	if (cj_object(conf, "runtimeConfig", &rc, err) < 0 || cj_object(conf, "args", &args, err) < 0 ||
	    cj_object(args, "cni", &acni, err) < 0)
		return -1;
	if (cj_str(ipam, "dataDir", &c->data_dir, err) < 0 || cj_str(ipam, "resolvConf", &c->resolv_conf, err) < 0)
		return -1;
	if (!c->data_dir || !*c->data_dir)
		c->data_dir = IPAM_DEFAULT_DATA_DIR;
	if (c->resolv_conf && !*c->resolv_conf)
		c->resolv_conf = NULL;
	if (ipam_routes_parse(cj_get(ipam, "routes"), &c->routes, &c->n_routes, err) < 0)
		return -1;

	/* requested addresses: CNI_ARGS IP, then args.cni.ips, then runtimeConfig.ips */
	size_t rcap = 0;
	if (args_ip && *args_ip && push_requested(c, &rcap, args_ip, "CNI_ARGS IP", err) < 0)
		return -1;
	if (push_requested_list(c, &rcap, cj_get(acni, "ips"), "args.cni.ips", err) < 0 ||
	    push_requested_list(c, &rcap, cj_get(rc, "ips"), "runtimeConfig.ips", err) < 0)
		return -1;

	/* range sets: runtimeConfig.ipRanges, the legacy top-level range, ranges */
	size_t scap = 0;
	if (parse_range_sets(cj_get(rc, "ipRanges"), "runtimeConfig.ipRanges", c, &scap, err) < 0)
		return -1;
	if (cj_get(ipam, "subnet")) {
		struct ipam_range_set s = { .ranges = cni_xcalloc(1, sizeof(struct ipam_range)), .n = 1 };
		if (!s.ranges)
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		if (parse_range(ipam, &s.ranges[0], err) < 0) {
			ipam_range_set_free(&s);
			return -1;
		}
		if (cni_ip_is_set(&s.ranges[0].subnet.ip)) {
			if (push_set(c, &scap, &s, err) < 0)
				return -1;
		} else {
			ipam_range_set_free(&s);
		}
	}
	if (parse_range_sets(cj_get(ipam, "ranges"), "ranges", c, &scap, err) < 0)
		return -1;
	if (!c->n_sets)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "no IP ranges specified");

	int n4 = 0, n6 = 0;
	for (size_t i = 0; i < c->n_sets; i++) {
		if (ipam_range_set_canonicalize(&c->sets[i], err) < 0)
			return cni_error_wrap(err, "invalid range set %zu", i);
		if (c->sets[i].ranges[0].start.family == AF_INET)
			n4++;
		else
			n6++;
	}
	if ((n4 > 1 || n6 > 1) && cni_version_cmp(version, "0.3.0") < 0)
		return cni_errorf(err, CNI_ERR_INCOMPATIBLE_VERSION,
				  "CNI version %s does not support more than 1 address per family", version);
	for (size_t i = 0; i < c->n_sets; i++)
		for (size_t j = i + 1; j < c->n_sets; j++)
			if (ipam_range_set_overlaps(&c->sets[i], &c->sets[j]))
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "range set %zu overlaps with %zu", i, j);
	return 0;
}

int ipam_hl_config_parse(const json_t *conf, const char *version, const char *args_ip,
			 struct ipam_hl_config *out, struct cni_error *err)
{
	memset(out, 0, sizeof(*out));
	if (hl_parse(conf, version, args_ip, out, err) < 0) {
		ipam_hl_config_free(out);
		return -1;
	}
	return 0;
}
