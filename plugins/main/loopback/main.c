/* loopback: bring `lo` up in the container (ADD), down again (DEL).
 *
 * ADD sets lo UP, refuses a lo that carries non-loopback addresses, and
 * passes prevResult through (or reports lo with its addresses). DEL sets lo
 * DOWN and succeeds when the namespace is already gone. CHECK fails when
 * lo is down. CNI_IFNAME is ignored: the loopback device is always `lo`. */
#include <net/if.h>

#include "cni/netlink.h"
#include "cni/netns.h"
#include "cni/plugin.h"

struct lo_state {
	struct nl_sock *sk;
	int ifindex;
	unsigned flags;
};

static int open_lo(const char *netns, struct lo_state *st, struct cni_error *err)
{
	_cleanup_close_ int nsfd = netns_open(netns, err);
	if (nsfd < 0)
		return -1;
	st->sk = cnl_open_netns(nsfd, err);
	if (!st->sk)
		return -1;
	_cleanup_link_ struct rtnl_link *lo = NULL;
	if (cnl_link_get(st->sk, "lo", &lo, err) < 0)
		return -1;
	st->ifindex = rtnl_link_get_ifindex(lo);
	st->flags = rtnl_link_get_flags(lo);
	return 0;
}

static int cmd_add(struct cni_call *c)
{
	struct lo_state st = { 0 };
	_cleanup_nl_ struct nl_sock *sk = NULL;
	int r = open_lo(c->netns, &st, &c->err);
	sk = st.sk;
	if (r < 0)
		return -1;
	if (cnl_link_set_up(sk, st.ifindex, true, &c->err) < 0)
		return -1;
	_cleanup_free_ struct cni_cidr *addrs = NULL;
	size_t n = 0;
	if (cnl_addr_list(sk, st.ifindex, AF_UNSPEC, &addrs, &n, &c->err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char b[CNI_IP_STRLEN];
		if (!cni_ip_is_loopback(&addrs[i].ip))
			return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG,
					  "loopback interface found with non-loopback address \"%s\"",
					  cni_ip_fmt(&addrs[i].ip, b));
	}
	if (c->prev) {
		c->result = cni_result_dup(c->prev);
		return c->result ? 0 : cni_errorf(&c->err, CNI_ERR_INTERNAL, "out of memory");
	}
	c->result = cni_result_new();
	if (!c->result || cni_result_add_interface(c->result, "lo", "00:00:00:00:00:00", c->netns) < 0)
		return cni_errorf(&c->err, CNI_ERR_INTERNAL, "out of memory");
	bool have4 = false, have6 = false;
	for (size_t i = 0; i < n; i++) {
		bool *have = addrs[i].ip.family == AF_INET ? &have4 : &have6;
		if (*have)
			continue;
		*have = true;
		if (cni_result_add_ip(c->result, &addrs[i], NULL, 0) < 0)
			return cni_errorf(&c->err, CNI_ERR_INTERNAL, "out of memory");
	}
	return 0;
}

static int cmd_del(struct cni_call *c)
{
	if (!*c->netns || c->netns_gone)
		return 0;
	struct lo_state st = { 0 };
	_cleanup_nl_ struct nl_sock *sk = NULL;
	int r = open_lo(c->netns, &st, &c->err);
	sk = st.sk;
	if (r < 0)
		return -1;
	return cnl_link_set_up(sk, st.ifindex, false, &c->err);
}

static int cmd_check(struct cni_call *c)
{
	struct lo_state st = { 0 };
	_cleanup_nl_ struct nl_sock *sk = NULL;
	int r = open_lo(c->netns, &st, &c->err);
	sk = st.sk;
	if (r < 0)
		return -1;
	if (!(st.flags & IFF_UP))
		return cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "loopback interface is down");
	return 0;
}

static const struct cni_plugin plugin = {
	.name = "loopback",
	.about = "brings the loopback interface of a container up and down",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
};

int main(int argc, char **argv)
{
	return cni_plugin_main(&plugin, argc, argv);
}
