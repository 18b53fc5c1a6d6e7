/* host-local ADD: one address per range set, all or nothing, under one
 * hold of the store's lock. */
#include <stdio.h>
#include <string.h>

#include "cni/ipam.h"

/* Allocate for set i; *ip and *range out. */
static int alloc_one(struct ipam_store *s, const struct ipam_hl_config *c, size_t i, const char *cid,
		     const char *ifname, bool *req_used, const struct cni_ip *held, size_t n_held, struct cni_ip *ip,
		     const struct ipam_range **range, struct cni_error *err)
{
	const struct ipam_range_set *set = &c->sets[i];
	char a[CNI_IP_STRLEN], rs[1024];

	/* an attachment holds at most one address per range set */
	for (size_t k = 0; k < n_held; k++)
		if (ipam_range_set_find(set, &held[k]))
			return cni_errorf(err, CNI_ERR_EXISTS, "%s has been allocated to %s, duplicate allocation is not allowed",
					  cni_ip_fmt(&held[k], a), cid);

	for (size_t k = 0; k < c->n_requested; k++) {
		if (req_used[k] || !(*range = ipam_range_set_find(set, &c->requested[k])))
			continue;
		req_used[k] = true;
		*ip = c->requested[k];
		if (cni_ip_eq(ip, &(*range)->gateway))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "requested ip %s is subnet's gateway", cni_ip_fmt(ip, a));
		bool ok;
		if (ipam_store_reserve(s, cid, ifname, ip, (int)i, &ok, err) < 0)
			return -1;
		if (!ok)
			return cni_errorf(err, CNI_ERR_CONFLICT, "requested IP address %s is not available in range set %s",
					  cni_ip_fmt(ip, a), ipam_range_set_fmt(set, rs, sizeof(rs)));
		return 0;
	}

	struct cni_ip last;
	struct ipam_iter it;
	ipam_store_last_reserved(s, (int)i, &last);
	ipam_iter_init(&it, set, &last);
	while (ipam_iter_next(&it, ip, range)) {
		bool ok;
		if (ipam_store_reserve(s, cid, ifname, ip, (int)i, &ok, err) < 0)
			return -1;
		if (ok)
			return 0;
	}
	return cni_errorf(err, CNI_ERR_IPAM_EXHAUSTED, "no IP addresses available in range set: %s",
			  ipam_range_set_fmt(set, rs, sizeof(rs)));
}

static int allocate_locked(struct ipam_store *s, const struct ipam_hl_config *c, const char *cid, const char *ifname,
			   struct cni_result *result, struct cni_ip *taken, size_t *n_taken, struct cni_error *err)
{
	_cleanup_free_ struct cni_ip *held = NULL;
	size_t n_held = 0;
	if (ipam_store_find(s, cid, ifname, true, &held, &n_held, err) < 0)
		return -1;
	if (ipam_store_index_prepare(s, true, err) < 0)
		return -1;
	_cleanup_free_ bool *req_used = cni_xcalloc(c->n_requested + 1, sizeof(bool));
	if (!req_used)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < c->n_sets; i++) {
		struct cni_ip ip;
		const struct ipam_range *r = NULL;
		if (alloc_one(s, c, i, cid, ifname, req_used, held, n_held, &ip, &r, err) < 0)
			return cni_error_wrap(err, "failed to allocate for range %zu", i);
		taken[(*n_taken)++] = ip;
		struct cni_cidr addr = { .ip = ip, .prefix = r->subnet.prefix };
		if (cni_result_add_ip(result, &addr, &r->gateway, -1) < 0)
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	char left[512] = "";
	size_t off = 0;
	for (size_t k = 0; k < c->n_requested; k++)
		if (!req_used[k] && off < sizeof(left)) {
			char a[CNI_IP_STRLEN];
			off += (size_t)snprintf(left + off, sizeof(left) - off, " %s", cni_ip_fmt(&c->requested[k], a));
		}
	if (off)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "failed to allocate all requested IPs:%s", left);
	return 0;
}

int ipam_allocate(struct ipam_store *s, const struct ipam_hl_config *c, const char *cid, const char *ifname,
		  struct cni_result *result, struct cni_error *err)
{
	_cleanup_free_ struct cni_ip *taken = cni_xcalloc(c->n_sets + 1, sizeof(*taken));
	size_t n_taken = 0;
	if (!taken)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	if (ipam_store_lock(s, err) < 0)
		return -1;
	int r = allocate_locked(s, c, cid, ifname, result, taken, &n_taken, err);
	bool consistent = s->index_ok;
	if (r < 0) {
		/* give back exactly what this ADD took, nothing else */
		struct cni_error e2 = { 0 };
		for (size_t i = 0; i < n_taken; i++)
			if (ipam_store_release_ip(s, cid, ifname, &taken[i], &e2) < 0)
				consistent = false;
		/* after a store failure the index is left for the next call to rebuild */
		if (err->code == CNI_ERR_IPAM_STORE || err->code == CNI_ERR_INTERNAL)
			consistent = false;
	}
	if (consistent) {
		struct cni_error e3 = { 0 };
		if (ipam_store_index_commit(s, r == 0 ? err : &e3) < 0 && r == 0)
			r = -1;
	}
	ipam_store_unlock(s);
	return r;
}

int ipam_set_has_free(struct ipam_store *s, const struct ipam_range_set *set, int set_idx, bool *found,
		      struct cni_error *err)
{
	struct cni_ip last, ip;
	struct ipam_iter it;
	*found = false;
	ipam_store_last_reserved(s, set_idx, &last);
	ipam_iter_init(&it, set, &last);
	while (ipam_iter_next(&it, &ip, NULL)) {
		bool taken;
		if (ipam_store_is_reserved(s, &ip, &taken, err) < 0)
			return -1;
		if (!taken) {
			*found = true;
			return 0;
		}
	}
	return 0;
}
