/* Ranges, range sets and the round-robin iterator of host-local. */
#include <stdio.h>
#include <string.h>

#include "cni/ipam.h"

void ipam_ip_canon(struct cni_ip *ip)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (ip->family == AF_INET6 && !memcmp(ip->b, mapped, sizeof(mapped))) {
		memmove(ip->b, ip->b + 12, 4);
		memset(ip->b + 4, 0, 12);
		ip->family = AF_INET;
	}
}

bool ipam_range_contains(const struct ipam_range *r, const struct cni_ip *ip)
{
	if (ip->family != r->subnet.ip.family || !cni_cidr_contains(&r->subnet, ip))
		return false;
	if (cni_ip_is_set(&r->start) && cni_ip_cmp(ip, &r->start) < 0)
		return false;
	if (cni_ip_is_set(&r->end) && cni_ip_cmp(ip, &r->end) > 0)
		return false;
	return true;
}

int ipam_range_canonicalize(struct ipam_range *r, struct cni_error *err)
{
	char a[CNI_CIDR_STRLEN], b[CNI_IP_STRLEN], c[CNI_CIDR_STRLEN];
	if (!cni_ip_is_set(&r->subnet.ip))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "missing subnet");
	if (r->subnet.ip.family == AF_INET6) {
		/* a v4-mapped subnet is a v4 subnet (prefix counted in 128 bits) */
		struct cni_ip t = r->subnet.ip;
		ipam_ip_canon(&t);
		if (t.family == AF_INET && r->subnet.prefix >= 96) {
			r->subnet.ip = t;
			r->subnet.prefix -= 96;
		}
	}
	int bits = cni_ip_bits(&r->subnet.ip);
	if (r->subnet.prefix > bits - 2)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "Network %s too small to allocate from",
				  cni_cidr_fmt(&r->subnet, a));
	if (cni_cidr_has_host_bits(&r->subnet)) {
		struct cni_cidr n = cni_cidr_network(&r->subnet);
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				  "Network has host bits set. For a subnet mask of length %d the network address is %s",
				  r->subnet.prefix, cni_ip_fmt(&n.ip, b));
	}
	ipam_ip_canon(&r->gateway);
	ipam_ip_canon(&r->start);
	ipam_ip_canon(&r->end);
	if (!cni_ip_is_set(&r->gateway))
		r->gateway = cni_ip_next(&r->subnet.ip);
	/* start/end are checked before the other is known, as the reference does */
	struct cni_ip end = r->end;
	memset(&r->end, 0, sizeof(r->end));
	if (cni_ip_is_set(&r->start)) {
		if (!ipam_range_contains(r, &r->start))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "RangeStart %s not in network %s",
					  cni_ip_fmt(&r->start, b), cni_cidr_fmt(&r->subnet, c));
	} else {
		r->start = cni_ip_next(&r->subnet.ip);
	}
	if (cni_ip_is_set(&end)) {
		if (!ipam_range_contains(r, &end))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "RangeEnd %s not in network %s",
					  cni_ip_fmt(&end, b), cni_cidr_fmt(&r->subnet, c));
		r->end = end;
	} else {
		r->end = cni_cidr_last(&r->subnet);
		if (r->end.family == AF_INET)
			r->end = cni_ip_prev(&r->end);
	}
	return 0;
}

static bool range_overlaps(const struct ipam_range *a, const struct ipam_range *b)
{
	if (a->start.family != b->start.family)
		return false;
	return ipam_range_contains(a, &b->start) || ipam_range_contains(a, &b->end) ||
	       ipam_range_contains(b, &a->start) || ipam_range_contains(b, &a->end);
}

static const char *range_fmt(const struct ipam_range *r, char *buf, size_t len)
{
	char a[CNI_IP_STRLEN], b[CNI_IP_STRLEN];
	snprintf(buf, len, "%s-%s", cni_ip_fmt(&r->start, a), cni_ip_fmt(&r->end, b));
	return buf;
}

int ipam_range_set_canonicalize(struct ipam_range_set *s, struct cni_error *err)
{
	if (!s->n)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "empty range set");
	for (size_t i = 0; i < s->n; i++) {
		if (ipam_range_canonicalize(&s->ranges[i], err) < 0)
			return -1;
		if (s->ranges[i].start.family != s->ranges[0].start.family)
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "mixed address families");
	}
	for (size_t i = 0; i < s->n; i++)
		for (size_t j = i + 1; j < s->n; j++)
			if (range_overlaps(&s->ranges[i], &s->ranges[j])) {
				char a[2 * CNI_IP_STRLEN + 2], b[2 * CNI_IP_STRLEN + 2];
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "subnets %s and %s overlap",
						  range_fmt(&s->ranges[i], a, sizeof(a)),
						  range_fmt(&s->ranges[j], b, sizeof(b)));
			}
	return 0;
}

const struct ipam_range *ipam_range_set_find(const struct ipam_range_set *s, const struct cni_ip *ip)
{
	struct cni_ip c = *ip;
	ipam_ip_canon(&c);
	for (size_t i = 0; i < s->n; i++)
		if (ipam_range_contains(&s->ranges[i], &c))
			return &s->ranges[i];
	return NULL;
}

bool ipam_range_set_overlaps(const struct ipam_range_set *a, const struct ipam_range_set *b)
{
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n; j++)
			if (range_overlaps(&a->ranges[i], &b->ranges[j]))
				return true;
	return false;
}

const char *ipam_range_set_fmt(const struct ipam_range_set *s, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < s->n && off < len; i++) {
		char r[2 * CNI_IP_STRLEN + 2];
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : "", range_fmt(&s->ranges[i], r, sizeof(r)));
	}
	return buf;
}

void ipam_range_set_free(struct ipam_range_set *s)
{
	free(s->ranges);
	s->ranges = NULL;
	s->n = 0;
}

void ipam_iter_init(struct ipam_iter *it, const struct ipam_range_set *set, const struct cni_ip *last)
{
	memset(it, 0, sizeof(*it));
	it->set = set;
	if (last && cni_ip_is_set(last)) {
		for (size_t i = 0; i < set->n; i++)
			if (ipam_range_contains(&set->ranges[i], last)) {
				it->idx = i;
				it->cur = *last; /* the first next() answers last + 1 */
				it->have_cur = true;
				return;
			}
	}
	it->first = set->ranges[0].start;
	it->have_first = true;
}

bool ipam_iter_next(struct ipam_iter *it, struct cni_ip *ip, const struct ipam_range **range)
{
	for (;;) {
		const struct ipam_range *r = &it->set->ranges[it->idx];
		if (!it->have_cur) {
			it->cur = r->start;
			it->first = it->cur;
			it->have_cur = it->have_first = true;
		} else {
			if (cni_ip_eq(&it->cur, &r->end)) {
				it->idx = (it->idx + 1) % it->set->n;
				r = &it->set->ranges[it->idx];
				it->cur = r->start;
			} else {
				it->cur = cni_ip_next(&it->cur);
			}
			if (!it->have_first) {
				it->first = it->cur;
				it->have_first = true;
			} else if (cni_ip_eq(&it->cur, &it->first)) {
				return false;
			}
		}
		if (cni_ip_eq(&it->cur, &r->gateway))
			continue;
		*ip = it->cur;
		if (range)
			*range = r;
		return true;
	}
}
