/* Socket-level rewrite of host-originated connections to published ports.
 *
 * portmap publishes ports with nftables DNAT (the contract; see
 * plugins/meta/portmap/README.md). A TCP connection made by a process of
 * the host netns to one of its own addresses is DNAT'd in OUTPUT, and the
 * kernel then re-routes every packet of it (ip_route_me_harder) and NATs it
 * both ways: measured 6 % below a connection to the container IP, where a
 * client outside the host sees no difference (bench/analysis.md).
 *
 * Here the destination is rewritten once, at connect(), by cgroup BPF
 * programs (connect4/6, getpeername4/6) attached to the root of the cgroup2
 * hierarchy; the socket then talks to the container directly and the DNAT
 * rule never sees it. The programs only rewrite when DNAT would have:
 *   - TCP, the socket is in the netns the mapping was made in (netns cookie
 *     in the key), and the socket is not bound yet;
 *   - the destination is local: the program binds the socket to it with
 *     bpf_bind(), which the kernel refuses for an address that is not the
 *     host's (the netns' ip_nonlocal_bind must be off: the caller checks);
 *     127.0.0.0/8 and 0.0.0.0 only for mappings flagged loopback (portmap's
 *     localhost DNAT, snat on); never ::1, IPv6 multicast or v4-mapped;
 *   - (hostIP, port) matches, else (any, port), as the nft maps.
 * Anything else (UDP, SCTP, conditions, masqAll, a bound socket, other
 * netns, cgroup2 or BPF missing) takes the nft DNAT path unchanged.
 * getpeername() reports the published address, from a per-socket record.
 *
 * The programs and their maps are found again by the ids their loader
 * wrote to /run/cni-c/socklb-v1.ids (checked by name), else through the
 * cgroup (query by program name); no bpffs needed. They are attached by
 * the first mapping and detached when the last one goes, all under the
 * flock of /run/cni-c/socklb.lock. Library code: errors only. */
#ifndef CNI_SOCKLB_H
#define CNI_SOCKLB_H

#include <stdbool.h>
#include <stdint.h>

#include "cni/common.h"

#define SOCKLB_LOOPBACK 1 /* value flag: 127.0.0.0/8 and 0.0.0.0 are rewritten too;
			   * the other bits are the caller's (portmap: an owner hash) */

struct cni_socklb {
	int lockfd;       /* /run/cni-c/socklb.lock, flock'ed while open */
	int cgfd;         /* root of the cgroup2 hierarchy, when it was needed */
	int map4, map6;   /* published ports; -1 when not attached */
	int prog[4];      /* connect4, connect6, getpeername4, getpeername6 */
	uint64_t netns;   /* cookie of the caller's netns */
};

/* One published port. Addresses in network order; host_ip all zero = any. */
struct socklb_port {
	int family;            /* AF_INET or AF_INET6 */
	uint8_t host_ip[16];
	uint16_t host_port;
	uint8_t dst_ip[16];
	uint16_t dst_port;
	uint16_t flags;
};

/* Open the facility of this node under its lock. create: load and attach
 * the programs when absent. Returns 1 when ready, 0 when not available
 * here (no cgroup2, no BPF, not attached and !create; err says why), -1
 * on an error. cni_socklb_close() is needed after any return. */
int cni_socklb_open(struct cni_socklb *lb, bool create, struct cni_error *err);
/* Publish p (replacing what (host_ip, host_port) had). */
int cni_socklb_put(struct cni_socklb *lb, const struct socklb_port *p, struct cni_error *err);
/* Withdraw p if the entry still points at p's destination. */
int cni_socklb_del(struct cni_socklb *lb, const struct socklb_port *p, struct cni_error *err);
/* Calls keep() for every entry of this netns (of every netns when
 * lb->netns was set to 0: test tools) and deletes those it returns false
 * for. Returns the number deleted or -1. */
int cni_socklb_sweep(struct cni_socklb *lb, bool (*keep)(const struct socklb_port *p, void *arg), void *arg,
		     struct cni_error *err);
/* Release; with detach_if_empty, take the programs off the cgroup when no
 * netns has an entry left. */
void cni_socklb_close(struct cni_socklb *lb, bool detach_if_empty);

/* How many of our programs are attached to the cgroup2 root, per attach
 * type (connect4, connect6, getpeername4, getpeername6): tests. */
int cni_socklb_count(int counts[4], struct cni_error *err);

/* The calling thread's netns cookie (SO_NETNS_COOKIE), 0 when unknown. */
uint64_t cni_netns_cookie(void);

#endif
