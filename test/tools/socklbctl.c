/* Test driver for pkg/netfilter/socklb.c (not installed; built by
 * test/integration/portmap.bats against the build's libcnic.a).
 *
 *   socklbctl list      entries of the caller's netns, one per line:
 *                       "HOST:PORT -> IP:PORT flags N" (HOST * for any)
 *   socklbctl attached  exit 0 when the programs are on the cgroup2 root
 * Never attaches anything itself. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cni/socklb.h"

static bool show(const struct socklb_port *p, void *arg)
{
	(void)arg;
	char h[INET6_ADDRSTRLEN] = "*", d[INET6_ADDRSTRLEN];
	static const uint8_t zero[16];
	if (memcmp(p->host_ip, zero, p->family == AF_INET ? 4 : 16))
		inet_ntop(p->family, p->host_ip, h, sizeof(h));
	inet_ntop(p->family, p->dst_ip, d, sizeof(d));
	bool v6 = p->family == AF_INET6;
	printf("%s%s%s:%u -> %s%s%s:%u flags %u\n", v6 ? "[" : "", h, v6 ? "]" : "", p->host_port, v6 ? "[" : "", d,
	       v6 ? "]" : "", p->dst_port, p->flags);
	return true;
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "list") && strcmp(argv[1], "attached"))) {
		fprintf(stderr, "usage: socklbctl list|attached\n");
		return 2;
	}
	struct cni_error e = { 0 };
	struct cni_socklb lb;
	int r = cni_socklb_open(&lb, false, &e);
	if (r < 0) {
		printf("%u: %s\n", e.code, e.msg);
		cni_socklb_close(&lb, false);
		return 2;
	}
	if (!strcmp(argv[1], "attached")) {
		cni_socklb_close(&lb, false);
		return r == 1 ? 0 : 1;
	}
	if (r == 1 && cni_socklb_sweep(&lb, show, NULL, &e) < 0) {
		printf("%u: %s\n", e.code, e.msg);
		r = -1;
	}
	cni_socklb_close(&lb, false);
	return r < 0 ? 1 : 0;
}
