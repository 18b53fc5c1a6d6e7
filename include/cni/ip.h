/* IP addresses and prefixes, both families, with the arithmetic IPAM needs. */
#ifndef CNI_IP_H
#define CNI_IP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define CNI_IP_STRLEN 46   /* INET6_ADDRSTRLEN */
#define CNI_CIDR_STRLEN 50

struct cni_ip {
	int family;        /* AF_INET, AF_INET6, or 0 when unset */
	uint8_t b[16];     /* network byte order; v4 uses b[0..3] */
};

struct cni_cidr {
	struct cni_ip ip;  /* may have host bits set (an interface address) */
	int prefix;
};

static inline int cni_ip_len(const struct cni_ip *ip) { return ip->family == AF_INET6 ? 16 : 4; }
static inline int cni_ip_bits(const struct cni_ip *ip) { return cni_ip_len(ip) * 8; }
static inline bool cni_ip_is_set(const struct cni_ip *ip) { return ip->family != 0; }

/* Parse "1.2.3.4" or "2001:db8::1". IPv4-mapped IPv6 is kept as IPv6. 0 / -1. */
int cni_ip_parse(const char *s, struct cni_ip *out);
/* Parse "a.b.c.d/n" (prefix required). 0 / -1. */
int cni_cidr_parse(const char *s, struct cni_cidr *out);
/* Parse "ip" or "ip/n"; *had_prefix tells which. 0 / -1. */
int cni_ip_or_cidr_parse(const char *s, struct cni_cidr *out, bool *had_prefix);

const char *cni_ip_fmt(const struct cni_ip *ip, char buf[CNI_IP_STRLEN]);
const char *cni_cidr_fmt(const struct cni_cidr *c, char buf[CNI_CIDR_STRLEN]);

int cni_ip_cmp(const struct cni_ip *a, const struct cni_ip *b); /* family first, then bytes */
bool cni_ip_eq(const struct cni_ip *a, const struct cni_ip *b);

/* Network address (host bits cleared) of a cidr. */
struct cni_cidr cni_cidr_network(const struct cni_cidr *c);
/* Does the network c contain ip? (family must match) */
bool cni_cidr_contains(const struct cni_cidr *c, const struct cni_ip *ip);
bool cni_cidr_overlap(const struct cni_cidr *a, const struct cni_cidr *b);
/* Last address of the network (broadcast for v4). */
struct cni_ip cni_cidr_last(const struct cni_cidr *c);
bool cni_cidr_has_host_bits(const struct cni_cidr *c);

/* ip + 1 / ip - 1 with wrap-around inside the family's space. */
struct cni_ip cni_ip_next(const struct cni_ip *ip);
struct cni_ip cni_ip_prev(const struct cni_ip *ip);

/* The zero address of a family ("0.0.0.0" / "::"). */
bool cni_ip_is_unspecified(const struct cni_ip *ip);
bool cni_ip_is_loopback(const struct cni_ip *ip);
bool cni_ip_is_link_local_unicast(const struct cni_ip *ip);
bool cni_ip_is_global_unicast(const struct cni_ip *ip);

#endif
