/* Test driver for pkg/netfilter masquerade (not installed; built by
 * test/integration/masq.bats against the build's libcnic.a).
 *
 *   masqctl add   NET CID IFNAME CIDR...
 *   masqctl del   NET CID IFNAME
 *   masqctl check NET CID IFNAME CIDR...
 *   masqctl gc    NET [CID/IFNAME...]
 *   masqctl bench NET N BASE4   time N adds then N dels (one process each
 *                               call, like a plugin would do: open, op, close)
 * Exit 0 on success; on failure prints "code: msg" and exits 1. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cni/masq.h"
#include "cni/nft.h"

static int fail(const struct cni_error *e)
{
	printf("%u: %s\n", e->code, e->msg);
	return 1;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	printf("%s n=%d p50=%.3f ms p95=%.3f ms max=%.3f ms\n", what, n, v[n / 2], v[(n * 95) / 100], v[n - 1]);
}

int main(int argc, char **argv)
{
	struct cni_error err = { 0 };
	if (argc < 3) {
		fprintf(stderr, "usage: masqctl add|del|check|gc|bench NET ...\n");
		return 2;
	}
	const char *cmd = argv[1], *net = argv[2];
	if (!strcmp(cmd, "bench")) {
		int n = argc > 3 ? atoi(argv[3]) : 100;
		struct cni_cidr base;
		if (argc < 5 || cni_cidr_parse(argv[4], &base) < 0 || n < 1 || n > 250)
			return 2;
		double *ta = calloc((size_t)n, sizeof(double)), *td = calloc((size_t)n, sizeof(double));
		for (int i = 0; i < n; i++) {
			char cid[32];
			snprintf(cid, sizeof(cid), "bench%d", i);
			struct cni_cidr c = base;
			c.ip.b[3] = (uint8_t)(i + 2);
			double t0 = now_ms();
			struct cni_nft *nft = cni_nft_open(&err);
			if (!nft || masq_add(nft, net, cid, "eth0", &c, 1, &err) < 0)
				return fail(&err);
			cni_nft_close(nft);
			ta[i] = now_ms() - t0;
		}
		for (int i = 0; i < n; i++) {
			char cid[32];
			snprintf(cid, sizeof(cid), "bench%d", i);
			double t0 = now_ms();
			struct cni_nft *nft = cni_nft_open(&err);
			if (!nft || masq_del(nft, net, cid, "eth0", &err) < 0)
				return fail(&err);
			cni_nft_close(nft); /* the close is where a grace period would be paid */
			td[i] = now_ms() - t0;
		}
		report("masq_add (open+add+close)", ta, n);
		report("masq_del (open+del+close)", td, n);
		free(ta);
		free(td);
		return 0;
	}
	_cleanup_nft_ struct cni_nft *nft = cni_nft_open(&err);
	if (!nft)
		return fail(&err);
	if (!strcmp(cmd, "gc")) {
		size_t n = (size_t)(argc - 3);
		struct cni_attachment *v = cni_xcalloc(n, sizeof(*v));
		for (size_t i = 0; i < n; i++) {
			char *s = strdup(argv[3 + i]);
			char *sl = strchr(s, '/');
			if (!sl)
				return 2;
			*sl = 0;
			v[i].container_id = s;
			v[i].ifname = strdup(sl + 1);
		}
		int r = masq_gc(nft, net, v, n, &err);
		cni_attachments_free(v, n);
		return r < 0 ? fail(&err) : 0;
	}
	if (argc < 5)
		return 2;
	const char *cid = argv[3], *ifname = argv[4];
	size_t n = (size_t)(argc - 5);
	struct cni_cidr *ips = cni_xcalloc(n, sizeof(*ips));
	for (size_t i = 0; i < n; i++)
		if (cni_cidr_parse(argv[5 + i], &ips[i]) < 0) {
			fprintf(stderr, "bad cidr %s\n", argv[5 + i]);
			return 2;
		}
	int r;
	if (!strcmp(cmd, "add"))
		r = masq_add(nft, net, cid, ifname, ips, n, &err);
	else if (!strcmp(cmd, "del"))
		r = masq_del(nft, net, cid, ifname, &err);
	else if (!strcmp(cmd, "check"))
		r = masq_check(nft, net, cid, ifname, ips, n, &err);
	else
		return 2;
	free(ips);
	return r < 0 ? fail(&err) : 0;
}
