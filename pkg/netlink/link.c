/* Link lookup and simple link changes. */
#include <errno.h>
#include <net/if.h>
#include <fcntl.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <sched.h>
#include <string.h>

#include "cni/netlink.h"
#include "cni/netns.h"

struct nl_sock *cnl_open(struct cni_error *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk) {
		cni_errorf(err, CNI_ERR_NETLINK, "failed to allocate netlink socket");
		return NULL;
	}
	int r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		nl_socket_free(sk);
		cni_errorf(err, CNI_ERR_NETLINK, "failed to open netlink socket: %s", nl_geterror(r));
		return NULL;
	}
	return sk;
}

struct nl_sock *cnl_open_netns(int nsfd, struct cni_error *err)
{
	int saved;
	if (netns_enter(nsfd, &saved, err) < 0)
		return NULL;
	struct nl_sock *sk = cnl_open(err);
	if (netns_leave(saved, err) < 0) {
		if (sk)
			cnl_close(sk);
		return NULL;
	}
	return sk;
}

void cnl_close(struct nl_sock *sk)
{
	nl_socket_free(sk);
}

static int link_get(struct nl_sock *sk, int ifindex, const char *name, struct rtnl_link **out,
		    struct cni_error *err)
{
	*out = NULL;
	int r = rtnl_link_get_kernel(sk, ifindex, name, out);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV) {
		if (name)
			return cni_errorf(err, CNI_ERR_NOT_FOUND, "link \"%s\" not found", name);
		return cni_errorf(err, CNI_ERR_NOT_FOUND, "link with index %d not found", ifindex);
	}
	if (r < 0)
		return cni_errorf(err, CNI_ERR_NETLINK, "failed to look up link \"%s\": %s", name ? name : "?",
				  nl_geterror(r));
	return 0;
}

int cnl_link_get(struct nl_sock *sk, const char *name, struct rtnl_link **out, struct cni_error *err)
{
	return link_get(sk, 0, name, out, err);
}

int cnl_link_get_index(struct nl_sock *sk, int ifindex, struct rtnl_link **out, struct cni_error *err)
{
	return link_get(sk, ifindex, NULL, out, err);
}

int cnl_link_set_up(struct nl_sock *sk, int ifindex, bool up, struct cni_error *err)
{
	struct rtnl_link *orig = rtnl_link_alloc(), *chg = rtnl_link_alloc();
	int r = -NLE_NOMEM;
	if (orig && chg) {
		rtnl_link_set_ifindex(orig, ifindex);
		if (up)
			rtnl_link_set_flags(chg, IFF_UP);
		else
			rtnl_link_unset_flags(chg, IFF_UP);
		r = rtnl_link_change(sk, orig, chg, 0);
	}
	if (orig)
		rtnl_link_put(orig);
	if (chg)
		rtnl_link_put(chg);
	if (r < 0)
		return cni_errorf(err, CNI_ERR_NETLINK, "failed to set link %d %s: %s", ifindex, up ? "up" : "down",
				  nl_geterror(r));
	return 0;
}

struct addr_collect {
	int ifindex, family;
	struct cni_cidr *v;
	size_t n, cap;
	bool oom;
};

static void addr_cb(struct nl_object *obj, void *arg)
{
	struct addr_collect *c = arg;
	struct rtnl_addr *a = (struct rtnl_addr *)obj;
	if (rtnl_addr_get_ifindex(a) != c->ifindex)
		return;
	int fam = rtnl_addr_get_family(a);
	if (c->family != AF_UNSPEC && fam != c->family)
		return;
	struct nl_addr *local = rtnl_addr_get_local(a);
	if (!local || nl_addr_get_len(local) != (fam == AF_INET ? 4u : 16u))
		return;
	if (cni_grow((void **)&c->v, &c->cap, c->n, sizeof(*c->v)) < 0) {
		c->oom = true;
		return;
	}
	struct cni_cidr *x = &c->v[c->n++];
	memset(x, 0, sizeof(*x));
	x->ip.family = fam;
	memcpy(x->ip.b, nl_addr_get_binary_addr(local), nl_addr_get_len(local));
	x->prefix = rtnl_addr_get_prefixlen(a);
}

int cnl_addr_list(struct nl_sock *sk, int ifindex, int family, struct cni_cidr **out, size_t *n,
		  struct cni_error *err)
{
	struct nl_cache *cache = NULL;
	*out = NULL;
	*n = 0;
	int r = rtnl_addr_alloc_cache(sk, &cache);
	if (r < 0)
		return cni_errorf(err, CNI_ERR_NETLINK, "failed to list addresses: %s", nl_geterror(r));
	struct addr_collect c = { .ifindex = ifindex, .family = family };
	nl_cache_foreach(cache, addr_cb, &c);
	nl_cache_free(cache);
	if (c.oom) {
		free(c.v);
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	*out = c.v;
	*n = c.n;
	return 0;
}
