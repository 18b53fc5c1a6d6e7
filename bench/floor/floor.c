/*
 * floor: the kernel work of one CNI ADD and one DEL, done by one minimal
 * program with raw netlink (libmnl), so `make bench` can say how far each
 * plugin suite is from the limit in the same run.
 *
 * It is driven like bench-driver, one command per line on stdin, one answer
 * per line on stdout:
 *
 *   setup bridge <tag> <a.b>    bridge <tag>b (a.b.0.1/16, up), table ip <tag>
 *                               with a masquerade set and a port map
 *   setup macvlan <tag> <a.b>   master <tag>m0 (one end of a veth pair, up)
 *   pop <n>                     attach n more background containers (untimed)
 *   sample                      netns create, ADD, DEL; answers
 *                               "ok <add_ns> <del_ns> <ns_create_ns> 0"
 *   flush                       remove the sampled (empty) netns; answers
 *                               "ok <ns_rm_ns_total>". The harness removes
 *                               netns in bulk after a run of samples, for
 *                               the plugins as for the floor, so no DEL
 *                               waits behind the kernel's cleanup_net of the
 *                               previous sample's netns.
 *   quit                        remove everything this program created
 *
 * ADD (bridge): one RTM_NEWLINK creating the veth with the peer directly in
 * the netns, one tx/rx queue, host end enslaved and up; accept_dad=0 on the
 * peer (as both suites); one sendmsg in the netns with address + peer up +
 * default route; one nft transaction adding
 * the address to the masquerade set and a port to the map.
 * DEL (bridge): one nft transaction deleting both elements, RTM_DELLINK of
 * the host end, then the sockets are closed.
 * ADD (macvlan): RTM_NEWLINK macvlan (mode bridge) created in the netns,
 * ndisc_notify=1 on it (as both suites),
 * then the same address/route sendmsg; DEL: RTM_DELLINK in the netns.
 * Every phase opens and closes its own netlink sockets, as a plugin process
 * has to. Must run in the namespace the plugins use as "host".
 */
#define _GNU_SOURCE
#include <net/if.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum mode { M_NONE, M_BRIDGE, M_MACVLAN };
static enum mode mode;
static char tag[16];
static unsigned net_a, net_b;
static unsigned next_id = 1; /* container index: address net.a.net.b + id + 1 */
static unsigned n_alive;
static unsigned alive[1100]; /* ids of background containers */
static unsigned n_dead;
static unsigned dead[1100]; /* sampled, detached, netns not yet removed */
static unsigned seq_no = 1;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("floor: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct mnl_socket *nl_open(int bus)
{
	struct mnl_socket *nl = mnl_socket_open(bus);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		die("netlink socket: %s", strerror(errno));
	return nl;
}

/* send len bytes, then wait for `acks` acknowledgements; returns 0 or -errno */
static int nl_talk(struct mnl_socket *nl, const void *buf, size_t len, int acks)
{
	char rb[MNL_SOCKET_BUFFER_SIZE];
	int err = 0;
	if (mnl_socket_sendto(nl, buf, len) < 0)
		return -errno;
	while (acks > 0) {
		ssize_t n = mnl_socket_recvfrom(nl, rb, sizeof(rb));
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *h = (struct nlmsghdr *)rb; mnl_nlmsg_ok(h, (int)n); h = mnl_nlmsg_next(h, (int *)&n)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
			if (e->error && !err)
				err = e->error;
			acks--;
		}
	}
	return err;
}

static struct nlmsghdr *rt_msg(char *buf, uint16_t type, uint16_t flags, void **hdr, size_t hsz)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	h->nlmsg_seq = seq_no++;
	*hdr = mnl_nlmsg_put_extra_header(h, hsz);
	return h;
}

static void name_of(char *out, size_t sz, const char *kind, unsigned id)
{
	snprintf(out, sz, "%s%s%u", tag, kind, id);
}

/* --- network namespaces, as `ip netns add/del` (runtime's job, untimed) --- */
static int ns_create(unsigned id)
{
	char path[128];
	snprintf(path, sizeof(path), "/run/netns/%sns%u", tag, id);
	int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (orig < 0 || fd < 0)
		die("netns file %s: %s", path, strerror(errno));
	close(fd);
	if (unshare(CLONE_NEWNET) < 0 || mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0)
		die("netns %s: %s", path, strerror(errno));
	if (setns(orig, CLONE_NEWNET) < 0)
		die("setns back: %s", strerror(errno));
	close(orig);
	return 0;
}

static int ns_open(unsigned id)
{
	char path[128];
	snprintf(path, sizeof(path), "/run/netns/%sns%u", tag, id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	return fd;
}

static void ns_remove(unsigned id)
{
	char path[128];
	snprintf(path, sizeof(path), "/run/netns/%sns%u", tag, id);
	umount2(path, MNT_DETACH);
	unlink(path);
}

/* a route socket opened inside the netns */
static struct mnl_socket *nl_open_in(int nsfd)
{
	int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (orig < 0 || setns(nsfd, CLONE_NEWNET) < 0)
		die("setns: %s", strerror(errno));
	struct mnl_socket *nl = nl_open(NETLINK_ROUTE);
	if (setns(orig, CLONE_NEWNET) < 0)
		die("setns back: %s", strerror(errno));
	close(orig);
	return nl;
}

static uint32_t ip_of(unsigned id)
{
	uint32_t host = id + 1; /* .1 is the gateway */
	return htonl((net_a << 24) | (net_b << 16) | host);
}

/* --- nftables element batch --- */
static int nft_elems(struct mnl_socket *nl, int add, unsigned id)
{
	char buf[4096];
	size_t off = 0;
	struct nlmsghdr *h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = NFNL_MSG_BATCH_BEGIN;
	h->nlmsg_flags = NLM_F_REQUEST;
	h->nlmsg_seq = seq_no++;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(NFNL_SUBSYS_NFTABLES);
	off += h->nlmsg_len;

	uint32_t ip = ip_of(id);
	for (int which = 0; which < 2; which++) {
		h = mnl_nlmsg_put_header(buf + off);
		h->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | (add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM);
		h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE : 0);
		h->nlmsg_seq = seq_no++;
		g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
		g->nfgen_family = NFPROTO_IPV4;
		g->version = NFNETLINK_V0;
		g->res_id = 0;
		mnl_attr_put_strz(h, NFTA_SET_ELEM_LIST_TABLE, tag);
		mnl_attr_put_strz(h, NFTA_SET_ELEM_LIST_SET, which ? "pm" : "masq");
		struct nlattr *list = mnl_attr_nest_start(h, NFTA_SET_ELEM_LIST_ELEMENTS);
		struct nlattr *el = mnl_attr_nest_start(h, NFTA_LIST_ELEM);
		struct nlattr *k = mnl_attr_nest_start(h, NFTA_SET_ELEM_KEY);
		if (!which) {
			mnl_attr_put(h, NFTA_DATA_VALUE, 4, &ip);
		} else { /* inet_proto . inet_service, each padded to 4 bytes */
			uint8_t key[8] = {IPPROTO_TCP};
			uint16_t port = htons((uint16_t)(20000 + id));
			memcpy(key + 4, &port, 2);
			mnl_attr_put(h, NFTA_DATA_VALUE, sizeof(key), key);
		}
		mnl_attr_nest_end(h, k);
		if (which && add) { /* ipv4_addr . inet_service */
			uint8_t data[8] = {0};
			uint16_t port = htons(80);
			memcpy(data, &ip, 4);
			memcpy(data + 4, &port, 2);
			struct nlattr *d = mnl_attr_nest_start(h, NFTA_SET_ELEM_DATA);
			mnl_attr_put(h, NFTA_DATA_VALUE, sizeof(data), data);
			mnl_attr_nest_end(h, d);
		}
		mnl_attr_nest_end(h, el);
		mnl_attr_nest_end(h, list);
		off += h->nlmsg_len;
	}
	h = mnl_nlmsg_put_header(buf + off);
	h->nlmsg_type = NFNL_MSG_BATCH_END;
	h->nlmsg_flags = NLM_F_REQUEST;
	h->nlmsg_seq = seq_no++;
	g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(NFNL_SUBSYS_NFTABLES);
	off += h->nlmsg_len;

	return nl_talk(nl, buf, off, 2);
}

/* --- ADD / DEL --- */
/* The sysctls both suites set in the container before it is up (bridge:
 * accept_dad=0, DAD off as the reference does; macvlan: ndisc_notify=1;
 * both: arp_notify=1), through a private procfs instance as our plugins do
 * (a /proc/sys/net lookup in a fresh netns is O(netns on the machine)).
 * With DAD off the kernel sends the container's router solicitation and
 * MLD reports at once, flooded to every port of the bridge: work that
 * belongs in the floor of an ADD. So does the gratuitous ARP arp_notify
 * sends when the link comes up with its address (the address goes on
 * before the UP, as ConfigureIface does): macvlan in bridge mode delivers
 * it to every other macvlan of the master. */
static void put_sysctl(int m, const char *rel, const char *val)
{
	int fd = openat(m, rel, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, 1) != 1)
		die("sysctl %s: %s", rel, strerror(errno));
	close(fd);
}

static void container_sysctl(const char *ifname)
{
	char rel[96];
	int fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC), m = -1;
	if (fs >= 0 && syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	if (m < 0)
		die("private procfs: %s", strerror(errno));
	if (mode == M_BRIDGE)
		snprintf(rel, sizeof(rel), "sys/net/ipv6/conf/%s/accept_dad", ifname);
	else
		snprintf(rel, sizeof(rel), "sys/net/ipv6/conf/%s/ndisc_notify", ifname);
	put_sysctl(m, rel, mode == M_BRIDGE ? "0" : "1");
	snprintf(rel, sizeof(rel), "sys/net/ipv4/conf/%s/arp_notify", ifname);
	put_sysctl(m, rel, "1");
	close(m);
	close(fs);
}

static int add_addr_route(int nsfd, const char *ifname, unsigned id)
{
	struct mnl_socket *nl = nl_open_in(nsfd);
	int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (setns(nsfd, CLONE_NEWNET) < 0)
		die("setns: %s", strerror(errno));
	unsigned idx = if_nametoindex(ifname);
	container_sysctl(ifname);
	if (setns(orig, CLONE_NEWNET) < 0)
		die("setns back: %s", strerror(errno));
	close(orig);
	if (!idx)
		die("no %s in the netns", ifname);
	char buf[1024];
	size_t off = 0;
	void *hp;
	struct nlmsghdr *h = rt_msg(buf + off, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &hp, sizeof(struct ifaddrmsg));
	struct ifaddrmsg *ifa = hp;
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 16;
	ifa->ifa_index = idx;
	uint32_t ip = ip_of(id);
	mnl_attr_put_u32(h, IFA_LOCAL, ip);
	mnl_attr_put_u32(h, IFA_ADDRESS, ip);
	off += h->nlmsg_len;

	h = rt_msg(buf + off, RTM_NEWLINK, 0, &hp, sizeof(struct ifinfomsg));
	struct ifinfomsg *ifi = hp;
	ifi->ifi_index = (int)idx;
	ifi->ifi_flags = ifi->ifi_change = IFF_UP;
	off += h->nlmsg_len;

	h = rt_msg(buf + off, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &hp, sizeof(struct rtmsg));
	struct rtmsg *rtm = hp;
	rtm->rtm_family = AF_INET;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	uint32_t gw = htonl((net_a << 24) | (net_b << 16) | 1);
	mnl_attr_put_u32(h, RTA_GATEWAY, gw);
	mnl_attr_put_u32(h, RTA_OIF, idx);
	off += h->nlmsg_len;
	int r = nl_talk(nl, buf, off, 3);
	mnl_socket_close(nl);
	return r;
}

static int do_add(unsigned id)
{
	int nsfd = ns_open(id);
	char buf[1024], host[32], master[32];
	void *hp;
	int r;
	struct mnl_socket *nl = nl_open(NETLINK_ROUTE);
	struct nlmsghdr *h = rt_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &hp, sizeof(struct ifinfomsg));
	struct ifinfomsg *ifi = hp;
	struct nlattr *li, *data;
	if (mode == M_BRIDGE) {
		name_of(host, sizeof(host), "v", id);
		name_of(master, sizeof(master), "b", 0);
		ifi->ifi_flags = ifi->ifi_change = IFF_UP;
		mnl_attr_put_strz(h, IFLA_IFNAME, host);
		mnl_attr_put_u32(h, IFLA_MASTER, if_nametoindex(master));
		mnl_attr_put_u32(h, IFLA_NUM_TX_QUEUES, 1);
		mnl_attr_put_u32(h, IFLA_NUM_RX_QUEUES, 1);
		li = mnl_attr_nest_start(h, IFLA_LINKINFO);
		mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
		data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
		struct nlattr *peer = mnl_attr_nest_start(h, VETH_INFO_PEER);
		struct ifinfomsg *pi = mnl_nlmsg_put_extra_header(h, sizeof(struct ifinfomsg));
		memset(pi, 0, sizeof(*pi));
		mnl_attr_put_strz(h, IFLA_IFNAME, "eth0");
		mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)nsfd);
		mnl_attr_put_u32(h, IFLA_NUM_TX_QUEUES, 1);
		mnl_attr_put_u32(h, IFLA_NUM_RX_QUEUES, 1);
		mnl_attr_nest_end(h, peer);
		mnl_attr_nest_end(h, data);
		mnl_attr_nest_end(h, li);
	} else {
		name_of(master, sizeof(master), "m", 0);
		mnl_attr_put_strz(h, IFLA_IFNAME, "eth0");
		mnl_attr_put_u32(h, IFLA_LINK, if_nametoindex(master));
		mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)nsfd);
		li = mnl_attr_nest_start(h, IFLA_LINKINFO);
		mnl_attr_put_strz(h, IFLA_INFO_KIND, "macvlan");
		data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
		mnl_attr_put_u32(h, IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
		mnl_attr_nest_end(h, data);
		mnl_attr_nest_end(h, li);
	}
	r = nl_talk(nl, buf, h->nlmsg_len, 1);
	mnl_socket_close(nl);
	if (r)
		die("link add %u: %s", id, strerror(-r));
	if ((r = add_addr_route(nsfd, "eth0", id)))
		die("addr/route %u: %s", id, strerror(-r));
	if (mode == M_BRIDGE) {
		struct mnl_socket *nft = nl_open(NETLINK_NETFILTER);
		if ((r = nft_elems(nft, 1, id)))
			die("nft add %u: %s", id, strerror(-r));
		mnl_socket_close(nft);
	}
	close(nsfd);
	return 0;
}

static int do_del(unsigned id)
{
	char buf[512], host[32];
	void *hp;
	int r;
	struct mnl_socket *nl, *nft = NULL;
	if (mode == M_BRIDGE) {
		/* nft DEL first, veth delete, then close: the veth's rcu_barrier
		 * covers the nft destroy work's grace period, which a close of
		 * the nfnetlink socket would otherwise wait for */
		nft = nl_open(NETLINK_NETFILTER);
		if ((r = nft_elems(nft, 0, id)))
			die("nft del %u: %s", id, strerror(-r));
		name_of(host, sizeof(host), "v", id);
		nl = nl_open(NETLINK_ROUTE);
	} else {
		int nsfd = ns_open(id);
		nl = nl_open_in(nsfd);
		close(nsfd);
		snprintf(host, sizeof(host), "eth0");
	}
	struct nlmsghdr *h = rt_msg(buf, RTM_DELLINK, 0, &hp, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(h, IFLA_IFNAME, host);
	r = nl_talk(nl, buf, h->nlmsg_len, 1);
	mnl_socket_close(nl);
	if (nft)
		mnl_socket_close(nft);
	if (r)
		die("link del %u: %s", id, strerror(-r));
	return 0;
}

/* --- setup/teardown, through the CLI (untimed) --- */
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void setup(void)
{
	if (mode == M_BRIDGE) {
		if (sh("ip link add %sb0 type bridge && ip addr add %u.%u.0.1/16 dev %sb0 && ip link set %sb0 up",
		       tag, net_a, net_b, tag, tag))
			die("bridge setup failed");
		if (sh("nft -f - <<'EOF'\n"
		       "table ip %s {\n"
		       " set masq { type ipv4_addr; }\n"
		       " map pm { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
		       " chain post { type nat hook postrouting priority srcnat; ip saddr @masq ip daddr != %u.%u.0.0/16 masquerade; }\n"
		       " chain pre { type nat hook prerouting priority dstnat; fib daddr type local dnat ip to meta l4proto . th dport map @pm; }\n"
		       " chain out { type nat hook output priority -100; fib daddr type local dnat ip to meta l4proto . th dport map @pm; }\n"
		       "}\nEOF",
		       tag, net_a, net_b))
			die("nft setup failed");
	} else if (sh("ip link add %sm0 type veth peer name %smp && ip link set %smp up && ip link set %sm0 up", tag, tag,
		      tag, tag)) { /* no dummy driver in every kernel: a veth end is the master */
		die("master setup failed");
	}
}

static void teardown(void)
{
	for (unsigned i = 0; i < n_alive; i++)
		ns_remove(alive[i]);
	for (unsigned i = 0; i < n_dead; i++)
		ns_remove(dead[i]);
	n_alive = n_dead = 0;
	if (mode == M_BRIDGE) {
		sh("ip link del %sb0 2>/dev/null", tag);
		sh("nft delete table ip %s 2>/dev/null", tag);
	} else if (mode == M_MACVLAN) {
		sh("ip link del %sm0 2>/dev/null", tag);
	}
	mode = M_NONE;
}

int main(void)
{
	char line[256];
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		char cmd[32] = "", a1[32] = "", a2[32] = "", a3[32] = "";
		if (sscanf(line, "%31s %31s %31s %31s", cmd, a1, a2, a3) < 1)
			continue;
		if (!strcmp(cmd, "quit"))
			break;
		if (!strcmp(cmd, "setup")) {
			teardown();
			mode = !strcmp(a1, "macvlan") ? M_MACVLAN : M_BRIDGE;
			snprintf(tag, sizeof(tag), "%.6s", a2);
			if (sscanf(a3, "%u.%u", &net_a, &net_b) != 2)
				die("bad net %s", a3);
			next_id = 1;
			setup();
			puts("ok");
		} else if (!strcmp(cmd, "pop")) {
			unsigned n = (unsigned)atoi(a1);
			if (n_alive + n > 1020)
				die("at most 1020 containers per bridge");
			for (unsigned i = 0; i < n; i++) {
				unsigned id = next_id++;
				ns_create(id);
				do_add(id);
				alive[n_alive++] = id;
			}
			puts("ok");
		} else if (!strcmp(cmd, "sample")) {
			unsigned id = next_id++;
			int64_t t0 = now_ns();
			ns_create(id);
			int64_t t1 = now_ns();
			do_add(id);
			int64_t t2 = now_ns();
			do_del(id);
			int64_t t3 = now_ns();
			if (n_dead == sizeof(dead) / sizeof(dead[0]))
				die("flush more often");
			dead[n_dead++] = id;
			printf("ok %lld %lld %lld 0\n", (long long)(t2 - t1), (long long)(t3 - t2), (long long)(t1 - t0));
		} else if (!strcmp(cmd, "flush")) {
			int64_t t0 = now_ns();
			for (unsigned i = 0; i < n_dead; i++)
				ns_remove(dead[i]);
			n_dead = 0;
			printf("ok %lld\n", (long long)(now_ns() - t0));
		} else {
			printf("err unknown command %s\n", cmd);
		}
	}
	teardown();
	return 0;
}
