/* Kernel objects over rtnetlink (libnl-route-3): links, addresses, routes,
 * sysctls. Objects are looked up by name or index, never by dumping every
 * link of the host. A socket belongs to the netns it was opened in, so a
 * plugin opens one per namespace and uses both without switching back. */
#ifndef CNI_NETLINK_H
#define CNI_NETLINK_H

#include <netlink/route/link.h>
#include <stdbool.h>

#include "cni/common.h"
#include "cni/ip.h"

struct nl_sock *cnl_open(struct cni_error *err);
/* A socket in the namespace of nsfd (the caller stays where it is). */
struct nl_sock *cnl_open_netns(int nsfd, struct cni_error *err);
void cnl_close(struct nl_sock *sk);
static inline void cnl_closep(struct nl_sock **sk) { if (*sk) cnl_close(*sk); }
#define _cleanup_nl_ _cleanup_(cnl_closep)
static inline void cnl_link_putp(struct rtnl_link **l) { if (*l) rtnl_link_put(*l); }
#define _cleanup_link_ _cleanup_(cnl_link_putp)

/* Get one link by name / index (RTM_GETLINK, no dump). When missing:
 * returns -1 with err->code CNI_ERR_NOT_FOUND. */
int cnl_link_get(struct nl_sock *sk, const char *name, struct rtnl_link **out, struct cni_error *err);
int cnl_link_get_index(struct nl_sock *sk, int ifindex, struct rtnl_link **out, struct cni_error *err);
int cnl_link_set_up(struct nl_sock *sk, int ifindex, bool up, struct cni_error *err);

/* Addresses of one link (family AF_UNSPEC for both). *out is malloc'd. */
int cnl_addr_list(struct nl_sock *sk, int ifindex, int family, struct cni_cidr **out, size_t *n,
		  struct cni_error *err);

#endif
