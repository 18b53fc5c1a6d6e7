/* Test driver for pkg/netfilter/socklb.c (not installed; built by
 * test/integration/portmap.bats against the build's libcnic.a).
 *
 *   socklbctl list      entries of the caller's netns, one per line:
 *                       "HOST:PORT -> IP:PORT flags N" (HOST * for any; N:
 *                       the loopback flag, the owner bits left out)
 *   socklbctl attached  exit 0 when the programs are on the cgroup2 root
 *   socklbctl count     how many of ours are attached per hook: "C4 C6 GP4 GP6"
 *   socklbctl clear     drop the entries of the caller's netns (a bench or
 *                       test host netns about to be deleted without DELs),
 *                       detach the programs when none is left
 *   socklbctl clear-all drop every entry of every netns and detach (a
 *                       test machine's reset; never on a node in use)
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
	       v6 ? "]" : "", p->dst_port, p->flags & SOCKLB_LOOPBACK);
	return true;
}

static bool drop(const struct socklb_port *p, void *arg)
{
	(void)p;
	(void)arg;
	return false;
}

int main(int argc, char **argv)
{
	static const char *const cmds[] = { "list", "attached", "clear", "clear-all", "count" };
	int cmd = -1;
	for (int i = 0; argc == 2 && i < 5; i++)
		if (!strcmp(argv[1], cmds[i]))
			cmd = i;
	if (cmd < 0) {
		fprintf(stderr, "usage: socklbctl list|attached|clear|clear-all|count\n");
		return 2;
	}
	struct cni_error e = { 0 };
	if (cmd == 4) {
		int c[4];
		if (cni_socklb_count(c, &e) < 0) {
			printf("%u: %s\n", e.code, e.msg);
			return 1;
		}
		printf("%d %d %d %d\n", c[0], c[1], c[2], c[3]);
		return 0;
	}
	struct cni_socklb lb;
	int r = cni_socklb_open(&lb, false, &e);
	if (r < 0) {
		printf("%u: %s\n", e.code, e.msg);
		cni_socklb_close(&lb, false);
		return 2;
	}
	if (cmd == 1) {
		cni_socklb_close(&lb, false);
		return r == 1 ? 0 : 1;
	}
	if (cmd == 3)
		lb.netns = 0; /* the sweep's netns filter: every netns */
	if (r == 1 && cni_socklb_sweep(&lb, cmd == 0 ? show : drop, NULL, &e) < 0) {
		printf("%u: %s\n", e.code, e.msg);
		r = -1;
	}
	cni_socklb_close(&lb, cmd >= 2);
	return r < 0 ? 1 : 0;
}
