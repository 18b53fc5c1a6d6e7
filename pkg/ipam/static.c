/* static IPAM configuration with the reference's precedence:
 * ipam.addresses, plus CNI_ARGS IP= (appended) and GATEWAY= (set on the
 * addresses whose subnet holds it); args.cni.ips replaces that list, and
 * runtimeConfig.ips (capability "ips") replaces it again, so it wins. */
#include <ctype.h>
#include <string.h>

#include "cni/ipam.h"
#include "cni/json.h"

void ipam_static_config_free(struct ipam_static_config *c)
{
	free(c->addrs);
	free(c->routes);
	cni_dns_free(&c->dns);
	memset(c, 0, sizeof(*c));
}

static int push_addr(struct ipam_static_config *c, size_t *cap, const struct cni_cidr *a, const struct cni_ip *gw,
		     struct cni_error *err)
{
	if (cni_grow((void **)&c->addrs, cap, c->n_addrs, sizeof(*c->addrs)) < 0)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	struct ipam_static_addr *s = &c->addrs[c->n_addrs++];
	memset(s, 0, sizeof(*s));
	s->address = *a;
	if (gw)
		s->gateway = *gw;
	return 0;
}

/* Copy one comma-separated item, trimmed, into buf. */
static void trim_item(const char *s, size_t len, char *buf, size_t blen)
{
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (len >= blen)
		len = blen - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
}

static int replace_from_list(struct ipam_static_config *c, size_t *cap, const json_t *arr, const char *what,
			     struct cni_error *err)
{
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid value for \"%s\": expected a list of CIDRs", what);
	if (!json_array_size(arr))
		return 0;
	c->n_addrs = 0;
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		struct cni_cidr a;
		char repr[96];
		if (!json_is_string(v) || cni_cidr_parse(json_string_value(v), &a) < 0)
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
					  "an entry in the 'ips' field is NOT in CIDR notation, got: '%s'",
					  json_is_string(v) ? json_string_value(v) : cj_repr(v, repr, sizeof(repr)));
		if (push_addr(c, cap, &a, NULL, err) < 0)
			return -1;
	}
	return 0;
}

static int static_parse(const json_t *conf, const char *version, const char *args_ip, const char *args_gw,
			struct ipam_static_config *c, struct cni_error *err)
{
	json_t *ipam = NULL, *rc = NULL, *args = NULL, *acni = NULL, *addrs = NULL, *dns = NULL;
	if (cj_object(conf, "ipam", &ipam, err) < 0)
		return -1;
	if (!ipam)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "IPAM config missing 'ipam' key");
	if (cj_object(conf, "runtimeConfig", &rc, err) < 0 || cj_object(conf, "args", &args, err) < 0 ||
	    cj_object(args, "cni", &acni, err) < 0 || cj_array(ipam, "addresses", &addrs, err) < 0 ||
	    cj_object(ipam, "dns", &dns, err) < 0)
		return -1;
	if (ipam_routes_parse(cj_get(ipam, "routes"), &c->routes, &c->n_routes, err) < 0)
		return -1;
	if (cni_dns_from_json(dns, &c->dns, err) < 0)
		return -1;

	size_t cap = 0, i;
	json_t *aj;
	json_array_foreach(addrs, i, aj) {
		const char *s = NULL;
		struct cni_ip gw = { 0 };
		struct cni_cidr a;
		char repr[96];
		if (!json_is_object(aj))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid address %zu: %s (expected an object)", i,
					  cj_repr(aj, repr, sizeof(repr)));
		if (cj_str(aj, "address", &s, err) < 0 || cj_ip(aj, "gateway", &gw, err) < 0)
			return cni_error_wrap(err, "invalid address %zu", i);
		if (!s || cni_cidr_parse(s, &a) < 0)
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
					  "the 'address' field is expected to be in CIDR notation, got: '%s'", s ? s : "");
		if (push_addr(c, &cap, &a, &gw, err) < 0)
			return -1;
	}

	if (args_ip && *args_ip) {
		for (const char *p = args_ip;;) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			char item[128];
			struct cni_cidr a;
			trim_item(p, len, item, sizeof(item));
			if (cni_cidr_parse(item, &a) < 0)
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
						  "the 'ip' field is expected to be in CIDR notation, got: '%s'", item);
			if (push_addr(c, &cap, &a, NULL, err) < 0)
				return -1;
			if (!comma)
				break;
			p = comma + 1;
		}
	}
	if (args_gw && *args_gw) {
		for (const char *p = args_gw;;) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			char item[128];
			struct cni_ip gw;
			trim_item(p, len, item, sizeof(item));
			if (cni_ip_parse(item, &gw) < 0)
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid gateway address: %.*s", (int)len, p);
			for (size_t k = 0; k < c->n_addrs; k++)
				if (cni_cidr_contains(&c->addrs[k].address, &gw))
					c->addrs[k].gateway = gw;
			if (!comma)
				break;
			p = comma + 1;
		}
	}

	if (replace_from_list(c, &cap, cj_get(acni, "ips"), "args.cni.ips", err) < 0 ||
	    replace_from_list(c, &cap, cj_get(rc, "ips"), "runtimeConfig.ips", err) < 0)
		return -1;

	int n4 = 0, n6 = 0;
	for (size_t k = 0; k < c->n_addrs; k++) {
		if (c->addrs[k].address.ip.family == AF_INET)
			n4++;
		else
			n6++;
	}
	if ((n4 > 1 || n6 > 1) && cni_version_cmp(version, "0.3.0") < 0)
		return cni_errorf(err, CNI_ERR_INCOMPATIBLE_VERSION,
				  "CNI version %s does not support more than 1 address per family", version);
	return 0;
}

int ipam_static_config_parse(const json_t *conf, const char *version, const char *args_ip,
			     const char *args_gateway, struct ipam_static_config *out, struct cni_error *err)
{
	memset(out, 0, sizeof(*out));
	if (static_parse(conf, version, args_ip, args_gateway, out, err) < 0) {
		ipam_static_config_free(out);
		return -1;
	}
	return 0;
}
