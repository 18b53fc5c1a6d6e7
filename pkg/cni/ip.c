/* IP address parsing, formatting and arithmetic. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni/ip.h"

int cni_ip_parse(const char *s, struct cni_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return -1;
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, out->b) != 1)
			return -1;
		out->family = AF_INET6;
		return 0;
	}
	if (inet_pton(AF_INET, s, out->b) != 1)
		return -1;
	out->family = AF_INET;
	return 0;
}

int cni_ip_or_cidr_parse(const char *s, struct cni_cidr *out, bool *had_prefix)
{
	char buf[CNI_CIDR_STRLEN + 8];
	memset(out, 0, sizeof(*out));
	if (!s || strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	if (had_prefix)
		*had_prefix = slash != NULL;
	if (slash)
		*slash = '\0';
	if (cni_ip_parse(buf, &out->ip) < 0)
		return -1;
	if (!slash) {
		out->prefix = cni_ip_bits(&out->ip);
		return 0;
	}
	const char *p = slash + 1;
	if (!*p || strlen(p) > 3)
		return -1;
	int n = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (*p - '0');
	}
	if (n > cni_ip_bits(&out->ip))
		return -1;
	out->prefix = n;
	return 0;
}

int cni_cidr_parse(const char *s, struct cni_cidr *out)
{
	bool had;
	if (cni_ip_or_cidr_parse(s, out, &had) < 0 || !had)
		return -1;
	return 0;
}

const char *cni_ip_fmt(const struct cni_ip *ip, char buf[CNI_IP_STRLEN])
{
	if (!ip->family || !inet_ntop(ip->family, ip->b, buf, CNI_IP_STRLEN))
		snprintf(buf, CNI_IP_STRLEN, "<nil>");
	return buf;
}

const char *cni_cidr_fmt(const struct cni_cidr *c, char buf[CNI_CIDR_STRLEN])
{
	char ip[CNI_IP_STRLEN];
	snprintf(buf, CNI_CIDR_STRLEN, "%s/%d", cni_ip_fmt(&c->ip, ip), c->prefix);
	return buf;
}

int cni_ip_cmp(const struct cni_ip *a, const struct cni_ip *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->b, b->b, (size_t)cni_ip_len(a));
}

bool cni_ip_eq(const struct cni_ip *a, const struct cni_ip *b)
{
	return cni_ip_cmp(a, b) == 0;
}

static void mask_bytes(uint8_t *b, int len, int prefix, bool set_host)
{
	for (int i = 0; i < len; i++) {
		int bits = prefix - i * 8;
		uint8_t m = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
		b[i] = set_host ? (uint8_t)(b[i] | ~m) : (uint8_t)(b[i] & m);
	}
}

struct cni_cidr cni_cidr_network(const struct cni_cidr *c)
{
	struct cni_cidr n = *c;
	mask_bytes(n.ip.b, cni_ip_len(&n.ip), n.prefix, false);
	return n;
}

struct cni_ip cni_cidr_last(const struct cni_cidr *c)
{
	struct cni_ip ip = c->ip;
	mask_bytes(ip.b, cni_ip_len(&ip), c->prefix, true);
	return ip;
}

bool cni_cidr_has_host_bits(const struct cni_cidr *c)
{
	struct cni_cidr n = cni_cidr_network(c);
	return !cni_ip_eq(&n.ip, &c->ip);
}

bool cni_cidr_contains(const struct cni_cidr *c, const struct cni_ip *ip)
{
	if (c->ip.family != ip->family)
		return false;
	struct cni_cidr a = cni_cidr_network(c);
	struct cni_cidr b = { .ip = *ip, .prefix = c->prefix };
	b = cni_cidr_network(&b);
	return cni_ip_eq(&a.ip, &b.ip);
}

bool cni_cidr_overlap(const struct cni_cidr *a, const struct cni_cidr *b)
{
	if (a->ip.family != b->ip.family)
		return false;
	return cni_cidr_contains(a, &b->ip) || cni_cidr_contains(b, &a->ip);
}

struct cni_ip cni_ip_next(const struct cni_ip *ip)
{
	struct cni_ip r = *ip;
	for (int i = cni_ip_len(ip) - 1; i >= 0; i--)
		if (++r.b[i] != 0)
			break;
	return r;
}

struct cni_ip cni_ip_prev(const struct cni_ip *ip)
{
	struct cni_ip r = *ip;
	for (int i = cni_ip_len(ip) - 1; i >= 0; i--)
		if (r.b[i]-- != 0)
			break;
	return r;
}

bool cni_ip_is_unspecified(const struct cni_ip *ip)
{
	for (int i = 0; i < cni_ip_len(ip); i++)
		if (ip->b[i])
			return false;
	return true;
}

bool cni_ip_is_loopback(const struct cni_ip *ip)
{
	if (ip->family == AF_INET)
		return ip->b[0] == 127;
	static const uint8_t lo6[16] = { [15] = 1 };
	return memcmp(ip->b, lo6, 16) == 0;
}

bool cni_ip_is_link_local_unicast(const struct cni_ip *ip)
{
	if (ip->family == AF_INET)
		return ip->b[0] == 169 && ip->b[1] == 254;
	return ip->b[0] == 0xfe && (ip->b[1] & 0xc0) == 0x80;
}

bool cni_ip_is_global_unicast(const struct cni_ip *ip)
{
	if (cni_ip_is_unspecified(ip) || cni_ip_is_loopback(ip) || cni_ip_is_link_local_unicast(ip))
		return false;
	if (ip->family == AF_INET)
		return ip->b[0] < 224 && !(ip->b[0] == 255);
	return ip->b[0] != 0xff;
}
