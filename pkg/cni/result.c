/* Result model, version handling, decoders and encoders for 0.1.0 ... 1.1.0. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cni/json.h"
#include "cni/result.h"

const char *const cni_all_versions[] = { "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL };

static int parse_version(const char *v, int out[3])
{
	if (!v)
		return -1;
	int n = 0;
	const char *p = v;
	for (int i = 0; i < 3; i++) {
		if (*p < '0' || *p > '9')
			return -1;
		long x = 0;
		while (*p >= '0' && *p <= '9') {
			x = x * 10 + (*p++ - '0');
			if (x > 100000)
				return -1;
		}
		out[i] = (int)x;
		n++;
		if (i < 2) {
			if (*p != '.')
				return -1;
			p++;
		}
	}
	return *p ? -1 : 0;
}

bool cni_version_valid(const char *v)
{
	int a[3];
	return parse_version(v, a) == 0;
}

int cni_version_cmp(const char *a, const char *b)
{
	int x[3], y[3];
	if (parse_version(a, x) < 0 || parse_version(b, y) < 0)
		return -2;
	for (int i = 0; i < 3; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

bool cni_version_known(const char *v)
{
	for (int i = 0; cni_all_versions[i]; i++)
		if (v && strcmp(v, cni_all_versions[i]) == 0)
			return true;
	return false;
}

struct cni_result *cni_result_new(void)
{
	return cni_xcalloc(1, sizeof(struct cni_result));
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void cni_dns_free(struct cni_dns *d)
{
	strv_free(d->nameservers, d->n_nameservers);
	strv_free(d->search, d->n_search);
	strv_free(d->options, d->n_options);
	free(d->domain);
	memset(d, 0, sizeof(*d));
}

bool cni_dns_empty(const struct cni_dns *d)
{
	return !d->n_nameservers && !d->domain && !d->n_search && !d->n_options;
}

static int strv_copy(char ***dst, size_t *dn, char *const *src, size_t n)
{
	*dst = NULL;
	*dn = 0;
	if (!n)
		return 0;
	*dst = cni_xcalloc(n, sizeof(char *));
	if (!*dst)
		return -1;
	for (size_t i = 0; i < n; i++) {
		(*dst)[i] = strdup(src[i]);
		if (!(*dst)[i])
			return -1;
		(*dn)++;
	}
	return 0;
}

int cni_dns_copy(struct cni_dns *dst, const struct cni_dns *src)
{
	memset(dst, 0, sizeof(*dst));
	if (strv_copy(&dst->nameservers, &dst->n_nameservers, src->nameservers, src->n_nameservers) < 0 ||
	    strv_copy(&dst->search, &dst->n_search, src->search, src->n_search) < 0 ||
	    strv_copy(&dst->options, &dst->n_options, src->options, src->n_options) < 0 ||
	    (src->domain && !(dst->domain = strdup(src->domain)))) {
		cni_dns_free(dst);
		return -1;
	}
	return 0;
}

static void iface_free(struct cni_interface *i)
{
	free(i->name);
	free(i->mac);
	free(i->sandbox);
	free(i->socket_path);
	free(i->pci_id);
}

void cni_result_free(struct cni_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_interfaces; i++)
		iface_free(&r->interfaces[i]);
	free(r->interfaces);
	free(r->ips);
	free(r->routes);
	cni_dns_free(&r->dns);
	free(r);
}

int cni_result_add_interface(struct cni_result *r, const char *name, const char *mac, const char *sandbox)
{
	if (cni_grow((void **)&r->interfaces, &r->cap_interfaces, r->n_interfaces, sizeof(*r->interfaces)) < 0)
		return -1;
	struct cni_interface *i = &r->interfaces[r->n_interfaces];
	memset(i, 0, sizeof(*i));
	i->name = cni_strdup(name ? name : "");
	i->mac = cni_strdup(mac);
	i->sandbox = cni_strdup(sandbox);
	if (!i->name || (mac && !i->mac) || (sandbox && !i->sandbox)) {
		iface_free(i);
		return -1;
	}
	return (int)r->n_interfaces++;
}

int cni_result_add_ip(struct cni_result *r, const struct cni_cidr *addr, const struct cni_ip *gw, int iface)
{
	if (cni_grow((void **)&r->ips, &r->cap_ips, r->n_ips, sizeof(*r->ips)) < 0)
		return -1;
	struct cni_ipconfig *c = &r->ips[r->n_ips];
	memset(c, 0, sizeof(*c));
	c->address = *addr;
	if (gw)
		c->gateway = *gw;
	c->interface = iface;
	return (int)r->n_ips++;
}

int cni_result_add_route(struct cni_result *r, const struct cni_route *route)
{
	if (cni_grow((void **)&r->routes, &r->cap_routes, r->n_routes, sizeof(*r->routes)) < 0)
		return -1;
	r->routes[r->n_routes] = *route;
	return (int)r->n_routes++;
}

struct cni_result *cni_result_dup(const struct cni_result *r)
{
	struct cni_result *n = cni_result_new();
	if (!n)
		return NULL;
	for (size_t i = 0; i < r->n_interfaces; i++) {
		const struct cni_interface *s = &r->interfaces[i];
		int k = cni_result_add_interface(n, s->name, s->mac, s->sandbox);
		if (k < 0)
			goto fail;
		n->interfaces[k].mtu = s->mtu;
		if ((s->socket_path && !(n->interfaces[k].socket_path = strdup(s->socket_path))) ||
		    (s->pci_id && !(n->interfaces[k].pci_id = strdup(s->pci_id))))
			goto fail;
	}
	for (size_t i = 0; i < r->n_ips; i++)
		if (cni_result_add_ip(n, &r->ips[i].address, &r->ips[i].gateway, r->ips[i].interface) < 0)
			goto fail;
	for (size_t i = 0; i < r->n_routes; i++)
		if (cni_result_add_route(n, &r->routes[i]) < 0)
			goto fail;
	if (cni_dns_copy(&n->dns, &r->dns) < 0)
		goto fail;
	return n;
fail:
	cni_result_free(n);
	return NULL;
}

int cni_result_find_interface(const struct cni_result *r, const char *name, bool need_sandbox)
{
	for (size_t i = 0; i < r->n_interfaces; i++) {
		const struct cni_interface *f = &r->interfaces[i];
		if (f->name && strcmp(f->name, name) == 0 && (!need_sandbox || (f->sandbox && *f->sandbox)))
			return (int)i;
	}
	return -1;
}

/* ---- decoding ---- */

static int decode_fail(struct cni_error *err, const char *what, const json_t *v)
{
	char r[96];
	return cni_errorf(err, CNI_ERR_DECODE, "failed to decode result: invalid %s: %s", what,
			  cj_repr(v, r, sizeof(r)));
}

static int strv_from_json(const json_t *j, const char *key, char ***out, size_t *n, struct cni_error *err)
{
	json_t *a = NULL;
	if (cj_array(j, key, &a, err) < 0)
		return -1;
	if (!a)
		return 0;
	size_t len = json_array_size(a);
	if (!len)
		return 0;
	*out = cni_xcalloc(len, sizeof(char *));
	if (!*out)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < len; i++) {
		json_t *s = json_array_get(a, i);
		if (!json_is_string(s))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid value in dns \"%s\": expected strings", key);
		if (!((*out)[i] = strdup(json_string_value(s))))
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		(*n)++;
	}
	return 0;
}

int cni_dns_from_json(const json_t *j, struct cni_dns *out, struct cni_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!j)
		return 0;
	if (!json_is_object(j))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid \"dns\": expected an object");
	const char *domain = NULL;
	if (strv_from_json(j, "nameservers", &out->nameservers, &out->n_nameservers, err) < 0 ||
	    strv_from_json(j, "search", &out->search, &out->n_search, err) < 0 ||
	    strv_from_json(j, "options", &out->options, &out->n_options, err) < 0 ||
	    cj_str(j, "domain", &domain, err) < 0) {
		cni_dns_free(out);
		return -1;
	}
	if (domain && *domain && !(out->domain = strdup(domain))) {
		cni_dns_free(out);
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	return 0;
}

bool cni_dns_json_present(const json_t *j)
{
	return j && json_is_object(j) &&
	       (cj_get(j, "nameservers") || cj_get(j, "domain") || cj_get(j, "search") || cj_get(j, "options"));
}

static int decode_route(const json_t *rj, struct cni_route *rt, struct cni_error *err)
{
	memset(rt, 0, sizeof(*rt));
	if (!json_is_object(rj))
		return decode_fail(err, "route", rj);
	const char *dst = NULL, *gw = NULL;
	struct cni_error e2;
	if (cj_str(rj, "dst", &dst, &e2) < 0 || !dst || cni_cidr_parse(dst, &rt->dst) < 0)
		return decode_fail(err, "route dst", rj);
	if (cj_str(rj, "gw", &gw, &e2) < 0 || (gw && *gw && cni_ip_parse(gw, &rt->gw) < 0))
		return decode_fail(err, "route gw", rj);
	struct { const char *k; int *v; bool *set; } ints[] = {
		{ "mtu", &rt->mtu, &rt->mtu_set },
		{ "advmss", &rt->advmss, &rt->advmss_set },
		{ "priority", &rt->priority, &rt->priority_set },
		{ "table", &rt->table, &rt->table_set },
		{ "scope", &rt->scope, &rt->scope_set },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ints); i++) {
		long long x = 0;
		if (cj_int(rj, ints[i].k, &x, &e2) < 0 || x < -2147483647LL || x > 2147483647LL)
			return decode_fail(err, "route attribute", rj);
		if (cj_get(rj, ints[i].k)) {
			*ints[i].v = (int)x;
			*ints[i].set = true;
		}
	}
	/* Go's omitempty: a zero mtu/advmss/priority is the same as absent */
	rt->mtu_set = rt->mtu_set && rt->mtu;
	rt->advmss_set = rt->advmss_set && rt->advmss;
	rt->priority_set = rt->priority_set && rt->priority;
	return 0;
}

static int decode_routes(const json_t *arr, struct cni_result *r, struct cni_error *err)
{
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return decode_fail(err, "routes", arr);
	size_t i;
	json_t *rj;
	json_array_foreach(arr, i, rj) {
		struct cni_route rt;
		if (decode_route(rj, &rt, err) < 0)
			return -1;
		if (cni_result_add_route(r, &rt) < 0)
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	return 0;
}

static int decode_legacy_ip(const json_t *o, int family, struct cni_result *r, struct cni_error *err)
{
	if (!o)
		return 0;
	if (!json_is_object(o))
		return decode_fail(err, family == AF_INET ? "ip4" : "ip6", o);
	struct cni_error e2;
	const char *ip = NULL, *gw = NULL;
	struct cni_cidr addr;
	struct cni_ip g = { 0 };
	if (cj_str(o, "ip", &ip, &e2) < 0 || !ip || cni_cidr_parse(ip, &addr) < 0)
		return decode_fail(err, "ip", o);
	if (cj_str(o, "gateway", &gw, &e2) < 0 || (gw && *gw && cni_ip_parse(gw, &g) < 0))
		return decode_fail(err, "gateway", o);
	if (cni_result_add_ip(r, &addr, &g, -1) < 0)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	return decode_routes(cj_get(o, "routes"), r, err);
}

static int decode_str_field(const json_t *o, const char *key, char **out, struct cni_error *err)
{
	struct cni_error e2;
	const char *s = NULL;
	if (cj_str(o, key, &s, &e2) < 0)
		return decode_fail(err, key, o);
	free(*out);
	*out = NULL;
	if (s && *s && !(*out = strdup(s)))
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	return 0;
}

struct cni_result *cni_result_decode(const json_t *j, const char *version, struct cni_error *err)
{
	if (!j || !json_is_object(j)) {
		cni_errorf(err, CNI_ERR_DECODE, "failed to decode result: not a JSON object");
		return NULL;
	}
	json_t *vj = cj_get(j, "cniVersion");
	if (vj && json_is_string(vj) && *json_string_value(vj))
		version = json_string_value(vj);
	if (!version)
		version = "0.1.0";
	if (!cni_version_known(version)) {
		cni_errorf(err, CNI_ERR_INCOMPATIBLE_VERSION, "unsupported result version \"%s\"", version);
		return NULL;
	}
	struct cni_result *r = cni_result_new();
	if (!r) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	if (cni_version_cmp(version, "0.3.0") < 0) {
		if (decode_legacy_ip(cj_get(j, "ip4"), AF_INET, r, err) < 0 ||
		    decode_legacy_ip(cj_get(j, "ip6"), AF_INET6, r, err) < 0)
			goto fail;
	} else {
		json_t *a = cj_get(j, "interfaces");
		size_t i;
		json_t *o;
		if (a && !json_is_array(a)) {
			decode_fail(err, "interfaces", a);
			goto fail;
		}
		json_array_foreach(a, i, o) {
			if (!json_is_object(o)) {
				decode_fail(err, "interface", o);
				goto fail;
			}
			int k = cni_result_add_interface(r, "", NULL, NULL);
			if (k < 0) {
				cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
				goto fail;
			}
			struct cni_interface *f = &r->interfaces[k];
			long long mtu = 0;
			struct cni_error e2;
			if (decode_str_field(o, "name", &f->name, err) < 0 || decode_str_field(o, "mac", &f->mac, err) < 0 ||
			    decode_str_field(o, "sandbox", &f->sandbox, err) < 0 ||
			    decode_str_field(o, "socketPath", &f->socket_path, err) < 0 ||
			    decode_str_field(o, "pciID", &f->pci_id, err) < 0)
				goto fail;
			if (!f->name && !(f->name = strdup(""))) {
				cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
				goto fail;
			}
			if (cj_int(o, "mtu", &mtu, &e2) < 0 || mtu < 0 || mtu > 0x7fffffff) {
				decode_fail(err, "interface mtu", o);
				goto fail;
			}
			f->mtu = (int)mtu;
		}
		a = cj_get(j, "ips");
		if (!a)
			a = cj_get(j, "ip"); /* the 0.3.0 text named it `ip` */
		if (a && !json_is_array(a)) {
			decode_fail(err, "ips", a);
			goto fail;
		}
		json_array_foreach(a, i, o) {
			struct cni_error e2;
			const char *addr = NULL, *gw = NULL, *ver = NULL;
			struct cni_cidr c;
			struct cni_ip g = { 0 };
			long long idx = -1;
			if (!json_is_object(o) || cj_str(o, "address", &addr, &e2) < 0 || !addr ||
			    cni_cidr_parse(addr, &c) < 0) {
				decode_fail(err, "ips address", o);
				goto fail;
			}
			if (cj_str(o, "gateway", &gw, &e2) < 0 || (gw && *gw && cni_ip_parse(gw, &g) < 0)) {
				decode_fail(err, "ips gateway", o);
				goto fail;
			}
			if (cj_str(o, "version", &ver, &e2) < 0 ||
			    (ver && strcmp(ver, "4") && strcmp(ver, "6"))) {
				decode_fail(err, "ips version", o);
				goto fail;
			}
			if (cj_int(o, "interface", &idx, &e2) < 0 || idx < -1 || idx > 0xffff) {
				decode_fail(err, "ips interface", o);
				goto fail;
			}
			if (cni_result_add_ip(r, &c, &g, (int)idx) < 0) {
				cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
				goto fail;
			}
		}
		if (decode_routes(cj_get(j, "routes"), r, err) < 0)
			goto fail;
	}
	if (cni_dns_from_json(cj_get(j, "dns"), &r->dns, err) < 0) {
		err->code = CNI_ERR_DECODE;
		goto fail;
	}
	return r;
fail:
	cni_result_free(r);
	return NULL;
}

/* ---- encoding ---- */

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *dns_json(const struct cni_dns *d)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	if (d->n_nameservers)
		json_object_set_new(o, "nameservers", strv_json(d->nameservers, d->n_nameservers));
	if (d->domain)
		json_object_set_new(o, "domain", json_string(d->domain));
	if (d->n_search)
		json_object_set_new(o, "search", strv_json(d->search, d->n_search));
	if (d->n_options)
		json_object_set_new(o, "options", strv_json(d->options, d->n_options));
	return o;
}

static json_t *route_json(const struct cni_route *rt)
{
	char b[CNI_CIDR_STRLEN];
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "dst", json_string(cni_cidr_fmt(&rt->dst, b)));
	if (cni_ip_is_set(&rt->gw))
		json_object_set_new(o, "gw", json_string(cni_ip_fmt(&rt->gw, b)));
	if (rt->mtu_set && rt->mtu)
		json_object_set_new(o, "mtu", json_integer(rt->mtu));
	if (rt->advmss_set && rt->advmss)
		json_object_set_new(o, "advmss", json_integer(rt->advmss));
	if (rt->priority_set && rt->priority)
		json_object_set_new(o, "priority", json_integer(rt->priority));
	if (rt->table_set)
		json_object_set_new(o, "table", json_integer(rt->table));
	if (rt->scope_set)
		json_object_set_new(o, "scope", json_integer(rt->scope));
	return o;
}

static json_t *legacy_ip_json(const struct cni_result *r, int family)
{
	const struct cni_ipconfig *ip = NULL;
	char b[CNI_CIDR_STRLEN];
	for (size_t i = 0; i < r->n_ips && !ip; i++)
		if (r->ips[i].address.ip.family == family)
			ip = &r->ips[i];
	if (!ip)
		return NULL;
	json_t *o = json_object();
	json_object_set_new(o, "ip", json_string(cni_cidr_fmt(&ip->address, b)));
	if (cni_ip_is_set(&ip->gateway))
		json_object_set_new(o, "gateway", json_string(cni_ip_fmt(&ip->gateway, b)));
	json_t *routes = json_array();
	for (size_t i = 0; i < r->n_routes; i++)
		if (r->routes[i].dst.ip.family == family)
			json_array_append_new(routes, route_json(&r->routes[i]));
	if (json_array_size(routes))
		json_object_set_new(o, "routes", routes);
	else
		json_decref(routes);
	return o;
}

int cni_result_check_version_capacity(const struct cni_result *r, const char *version, struct cni_error *err)
{
	if (cni_version_cmp(version, "0.3.0") >= 0)
		return 0;
	int n4 = 0, n6 = 0;
	for (size_t i = 0; i < r->n_ips; i++)
		r->ips[i].address.ip.family == AF_INET ? n4++ : n6++;
	if (n4 > 1 || n6 > 1)
		return cni_errorf(err, CNI_ERR_INCOMPATIBLE_VERSION,
				  "CNI version %s does not support more than 1 address per family", version);
	return 0;
}

json_t *cni_result_encode(const struct cni_result *r, const char *version, struct cni_error *err)
{
	if (!cni_version_known(version)) {
		cni_errorf(err, CNI_ERR_INCOMPATIBLE_VERSION, "cannot convert result to unsupported version \"%s\"",
			   version ? version : "");
		return NULL;
	}
	json_t *o = json_object();
	if (!o) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	json_object_set_new(o, "cniVersion", json_string(version));
	char b[CNI_CIDR_STRLEN];
	if (cni_version_cmp(version, "0.3.0") < 0) {
		json_t *ip4 = legacy_ip_json(r, AF_INET), *ip6 = legacy_ip_json(r, AF_INET6);
		if (ip4)
			json_object_set_new(o, "ip4", ip4);
		if (ip6)
			json_object_set_new(o, "ip6", ip6);
		json_object_set_new(o, "dns", dns_json(&r->dns));
		return o;
	}
	bool v11 = cni_version_cmp(version, "1.1.0") >= 0;
	bool v1 = cni_version_cmp(version, "1.0.0") >= 0;
	if (r->n_interfaces) {
		json_t *a = json_array();
		for (size_t i = 0; i < r->n_interfaces; i++) {
			const struct cni_interface *f = &r->interfaces[i];
			json_t *io = json_object();
			json_object_set_new(io, "name", json_string(f->name ? f->name : ""));
			if (f->mac && *f->mac)
				json_object_set_new(io, "mac", json_string(f->mac));
			if (v11 && f->mtu)
				json_object_set_new(io, "mtu", json_integer(f->mtu));
			if (f->sandbox && *f->sandbox)
				json_object_set_new(io, "sandbox", json_string(f->sandbox));
			if (v11 && f->socket_path && *f->socket_path)
				json_object_set_new(io, "socketPath", json_string(f->socket_path));
			if (v11 && f->pci_id && *f->pci_id)
				json_object_set_new(io, "pciID", json_string(f->pci_id));
			json_array_append_new(a, io);
		}
		json_object_set_new(o, "interfaces", a);
	}
	if (r->n_ips) {
		json_t *a = json_array();
		for (size_t i = 0; i < r->n_ips; i++) {
			const struct cni_ipconfig *c = &r->ips[i];
			json_t *io = json_object();
			if (!v1)
				json_object_set_new(io, "version",
						    json_string(c->address.ip.family == AF_INET6 ? "6" : "4"));
			if (c->interface >= 0)
				json_object_set_new(io, "interface", json_integer(c->interface));
			json_object_set_new(io, "address", json_string(cni_cidr_fmt(&c->address, b)));
			if (cni_ip_is_set(&c->gateway))
				json_object_set_new(io, "gateway", json_string(cni_ip_fmt(&c->gateway, b)));
			json_array_append_new(a, io);
		}
		json_object_set_new(o, "ips", a);
	}
	if (r->n_routes) {
		json_t *a = json_array();
		for (size_t i = 0; i < r->n_routes; i++)
			json_array_append_new(a, route_json(&r->routes[i]));
		json_object_set_new(o, "routes", a);
	}
	if (!v1 || !cni_dns_empty(&r->dns))
		json_object_set_new(o, "dns", dns_json(&r->dns));
	return o;
}
