/* Socket-level rewrite of host-originated connections to published ports:
 * four small cgroup BPF programs, assembled here (no clang, no libbpf), and
 * their maps. See include/cni/socklb.h for what is rewritten and when. */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cni/netlink.h"
#include "cni/nft.h"
#include "cni/socklb.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* Object names carry the layout version: a changed layout is a new name. */
#define MAP4_NAME "cnic_pm4_v1"
#define MAP6_NAME "cnic_pm6_v1"
#define REV_NAME "cnic_pmrev_v1"
static const char *const prog_names[4] = { "cnic_pm_c4_v1", "cnic_pm_c6_v1", "cnic_pm_gp4_v1", "cnic_pm_gp6_v1" };
static const enum bpf_attach_type prog_types[4] = { BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT,
						    BPF_CGROUP_INET4_GETPEERNAME, BPF_CGROUP_INET6_GETPEERNAME };
#define MAX_PORTS 16384
#define MAX_SOCKETS 16384 /* LRU: only getpeername() of the oldest live sockets can lose */

/* Map layouts, shared with the programs below (offsets used there). */
struct key4 {
	uint64_t netns;
	uint32_t addr;
	uint16_t port;
	uint8_t proto, pad;
};
struct val4 {
	uint32_t addr;
	uint16_t port, flags;
};
struct key6 {
	uint64_t netns;
	uint32_t addr[4];
	uint16_t port;
	uint8_t proto, pad[5];
};
struct val6 {
	uint32_t addr[4];
	uint16_t port, flags;
	uint32_t pad;
};
struct rev { /* socket cookie -> what connect() asked for, what it got */
	uint32_t orig[4], now[4];
	uint32_t orig_port, now_port;
};
_Static_assert(sizeof(struct key4) == 16 && sizeof(struct val4) == 8 && sizeof(struct key6) == 32 &&
		       sizeof(struct val6) == 24 && sizeof(struct rev) == 40,
	       "map layouts");

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* ---- a tiny assembler with labels --------------------------------------- */

struct prog {
	struct bpf_insn v[160];
	int n, lab[8], nfix;
	struct {
		int at, lab;
	} fix[32];
	bool bad;
};

static void emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	if (p->n >= (int)(sizeof(p->v) / sizeof(p->v[0]))) {
		p->bad = true;
		return;
	}
	p->v[p->n++] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}
#define R0 BPF_REG_0
#define R1 BPF_REG_1
#define R2 BPF_REG_2
#define R3 BPF_REG_3
#define R4 BPF_REG_4
#define R6 BPF_REG_6
#define R7 BPF_REG_7
#define R8 BPF_REG_8
#define R9 BPF_REG_9
#define FP BPF_REG_10
#define MOVR(d, s) emit(p, BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOVI(d, i) emit(p, BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADDI(d, i) emit(p, BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define ANDI(d, i) emit(p, BPF_ALU64 | BPF_AND | BPF_K, d, 0, 0, i)
#define LDX(sz, d, s, o) emit(p, BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define STX(sz, d, o, s) emit(p, BPF_STX | BPF_MEM | (sz), d, s, o, 0)
#define STI(sz, d, o, i) emit(p, BPF_ST | BPF_MEM | (sz), d, 0, o, i)
#define CALL(f) emit(p, BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT() emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LDMAP(d, fd)                                                    \
	do {                                                            \
		emit(p, BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd); \
		emit(p, 0, 0, 0, 0, 0);                                 \
	} while (0)
#define CTX(f) ((int16_t)offsetof(struct bpf_sock_addr, f))
#define W BPF_W
#define H BPF_H
#define B BPF_B
#define DW BPF_DW

static void jmp(struct prog *p, uint8_t op, uint8_t reg, int32_t imm, int lab)
{
	if (p->nfix >= 32) {
		p->bad = true;
		return;
	}
	p->fix[p->nfix].at = p->n;
	p->fix[p->nfix++].lab = lab;
	emit(p, BPF_JMP | op | BPF_K, reg, 0, 0, imm);
}
static void jmpr(struct prog *p, uint8_t op, uint8_t reg, uint8_t src, int lab)
{
	jmp(p, op, reg, 0, lab);
	if (!p->bad) {
		p->v[p->n - 1].code = BPF_JMP | op | BPF_X;
		p->v[p->n - 1].src_reg = src;
	}
}
#define JA(lab) jmp(p, BPF_JA, 0, 0, lab)
#define LABEL(l) (p->lab[l] = p->n)

static void resolve(struct prog *p)
{
	for (int i = 0; i < p->nfix; i++)
		p->v[p->fix[i].at].off = (int16_t)(p->lab[p->fix[i].lab] - p->fix[i].at - 1);
}

/* r0 = lookup(map, fp + keyoff) */
static void lookup(struct prog *p, int map, int16_t keyoff)
{
	LDMAP(R1, map);
	MOVR(R2, FP);
	ADDI(R2, keyoff);
	CALL(BPF_FUNC_map_lookup_elem);
}

/* rev[socket cookie at fp + keyoff] = fp + valoff (r6: ctx) */
static void rev_update(struct prog *p, int rev, int16_t keyoff, int16_t valoff)
{
	MOVR(R1, R6);
	CALL(BPF_FUNC_get_socket_cookie);
	STX(DW, FP, keyoff, R0);
	LDMAP(R1, rev);
	MOVR(R2, FP);
	ADDI(R2, keyoff);
	MOVR(R3, FP);
	ADDI(R3, valoff);
	MOVI(R4, BPF_ANY);
	CALL(BPF_FUNC_map_update_elem);
}

enum { L_ALLOW, L_FOUND, L_ADDR_OK, L_LOOP, L_BIND, L_REWRITE, L_OUT };

/* connect4. Stack: key4 at -16, sockaddr_in at -32, rev key at -40, rev
 * value at -80. r6 ctx, r7 destination address, r8 port, r9 entry. */
static void prog_connect4(struct prog *p, int map4, int rev)
{
	MOVR(R6, R1);
	LDX(W, R2, R6, CTX(protocol));
	jmp(p, BPF_JNE, R2, IPPROTO_TCP, L_ALLOW);
	MOVR(R1, R6);
	CALL(BPF_FUNC_get_netns_cookie);
	STX(DW, FP, -16, R0);
	LDX(W, R7, R6, CTX(user_ip4));
	STX(W, FP, -8, R7);
	LDX(W, R8, R6, CTX(user_port));
	STX(W, FP, -4, R8); /* port (16 bits, network order) and zeroes */
	STI(B, FP, -2, IPPROTO_TCP);
	lookup(p, map4, -16);
	jmp(p, BPF_JNE, R0, 0, L_FOUND);
	STI(W, FP, -8, 0); /* any host address */
	lookup(p, map4, -16);
	jmp(p, BPF_JEQ, R0, 0, L_ALLOW);
	LABEL(L_FOUND);
	MOVR(R9, R0);
	jmp(p, BPF_JEQ, R7, 0, L_LOOP); /* 0.0.0.0 is the loopback */
	MOVR(R1, R7);
	ANDI(R1, 0xff); /* first octet (the address is in network order) */
	jmp(p, BPF_JNE, R1, 127, L_BIND);
	LABEL(L_LOOP);
	LDX(H, R1, R9, offsetof(struct val4, flags));
	ANDI(R1, SOCKLB_LOOPBACK);
	jmp(p, BPF_JEQ, R1, 0, L_ALLOW);
	JA(L_REWRITE);
	LABEL(L_BIND); /* r1: first octet. Multicast, class E, broadcast: never */
	jmp(p, BPF_JGE, R1, 224, L_ALLOW);
	/* local? the kernel's own check: bind to it (refused unless local,
	 * or a subnet broadcast address: TCP cannot connect to one anyway) */
	STI(DW, FP, -32, 0);
	STI(DW, FP, -24, 0);
	STI(H, FP, -32, AF_INET);
	STX(W, FP, -28, R7);
	MOVR(R1, R6);
	MOVR(R2, FP);
	ADDI(R2, -32);
	MOVI(R3, sizeof(struct sockaddr_in));
	CALL(BPF_FUNC_bind);
	jmp(p, BPF_JNE, R0, 0, L_ALLOW);
	LABEL(L_REWRITE);
	LDX(W, R1, R9, offsetof(struct val4, addr));
	STX(W, R6, CTX(user_ip4), R1);
	STX(W, FP, -64, R1);
	LDX(H, R1, R9, offsetof(struct val4, port));
	STX(W, R6, CTX(user_port), R1);
	STX(W, FP, -44, R1);
	STX(W, FP, -80, R7);
	STI(W, FP, -76, 0);
	STI(DW, FP, -72, 0);
	STI(W, FP, -60, 0);
	STI(DW, FP, -56, 0);
	STX(W, FP, -48, R8);
	rev_update(p, rev, -40, -80);
	LABEL(L_ALLOW);
	MOVI(R0, 1);
	EXIT();
}

/* connect6. Stack: key6 at -32, original address copy at -48, sockaddr_in6
 * (32 bytes) at -80, rev key at -88, rev value at -128. */
static void prog_connect6(struct prog *p, int map6, int rev)
{
	MOVR(R6, R1);
	LDX(W, R2, R6, CTX(protocol));
	jmp(p, BPF_JNE, R2, IPPROTO_TCP, L_ALLOW);
	/* never ::1, ::, v4-mapped/compatible (first 64 bits zero) or multicast */
	LDX(W, R7, R6, CTX(user_ip6));
	MOVR(R1, R7);
	ANDI(R1, 0xff);
	jmp(p, BPF_JEQ, R1, 0xff, L_ALLOW);
	LDX(W, R1, R6, (int16_t)(CTX(user_ip6) + 4));
	jmp(p, BPF_JNE, R7, 0, L_ADDR_OK);
	jmp(p, BPF_JEQ, R1, 0, L_ALLOW);
	LABEL(L_ADDR_OK);
	MOVR(R1, R6);
	CALL(BPF_FUNC_get_netns_cookie);
	STX(DW, FP, -32, R0);
	for (int i = 0; i < 4; i++) {
		LDX(W, R1, R6, (int16_t)(CTX(user_ip6) + 4 * i));
		STX(W, FP, -24 + 4 * i, R1);
		STX(W, FP, -48 + 4 * i, R1);
	}
	LDX(W, R8, R6, CTX(user_port));
	STX(W, FP, -8, R8);
	STI(B, FP, -6, IPPROTO_TCP);
	STI(W, FP, -4, 0);
	lookup(p, map6, -32);
	jmp(p, BPF_JNE, R0, 0, L_BIND);
	STI(DW, FP, -24, 0);
	STI(DW, FP, -16, 0);
	lookup(p, map6, -32);
	jmp(p, BPF_JEQ, R0, 0, L_ALLOW);
	LABEL(L_BIND);
	MOVR(R9, R0);
	STI(DW, FP, -80, 0);
	STI(DW, FP, -72, 0);
	STI(DW, FP, -64, 0);
	STI(DW, FP, -56, 0);
	STI(H, FP, -80, AF_INET6);
	for (int i = 0; i < 4; i++) {
		LDX(W, R1, FP, -48 + 4 * i);
		STX(W, FP, -80 + 8 + 4 * i, R1); /* sin6_addr at offset 8 */
	}
	MOVR(R1, R6);
	MOVR(R2, FP);
	ADDI(R2, -80);
	MOVI(R3, sizeof(struct sockaddr_in6));
	CALL(BPF_FUNC_bind);
	jmp(p, BPF_JNE, R0, 0, L_ALLOW);
	for (int i = 0; i < 4; i++) {
		LDX(W, R1, R9, 4 * i);
		STX(W, R6, (int16_t)(CTX(user_ip6) + 4 * i), R1);
		STX(W, FP, -112 + 4 * i, R1);
		LDX(W, R1, FP, -48 + 4 * i);
		STX(W, FP, -128 + 4 * i, R1);
	}
	LDX(H, R1, R9, offsetof(struct val6, port));
	STX(W, R6, CTX(user_port), R1);
	STX(W, FP, -92, R1);
	STX(W, FP, -96, R8);
	rev_update(p, rev, -88, -128);
	LABEL(L_ALLOW);
	MOVI(R0, 1);
	EXIT();
}

/* getpeername4/6: a socket connect() rewrote reports what it asked for,
 * while its peer is still the one it was given. */
static void prog_getpeername(struct prog *p, int rev, bool v6)
{
	MOVR(R6, R1);
	MOVR(R1, R6);
	CALL(BPF_FUNC_get_socket_cookie);
	STX(DW, FP, -8, R0);
	LDMAP(R1, rev);
	MOVR(R2, FP);
	ADDI(R2, -8);
	CALL(BPF_FUNC_map_lookup_elem);
	jmp(p, BPF_JEQ, R0, 0, L_OUT);
	MOVR(R9, R0);
	for (int i = 0; i < (v6 ? 4 : 1); i++) {
		LDX(W, R1, R9, offsetof(struct rev, now) + 4 * i);
		LDX(W, R2, R6, v6 ? (int16_t)(CTX(user_ip6) + 4 * i) : CTX(user_ip4));
		jmpr(p, BPF_JNE, R1, R2, L_OUT);
	}
	LDX(W, R1, R9, offsetof(struct rev, now_port));
	LDX(W, R2, R6, CTX(user_port));
	jmpr(p, BPF_JNE, R1, R2, L_OUT);
	for (int i = 0; i < (v6 ? 4 : 1); i++) {
		LDX(W, R1, R9, offsetof(struct rev, orig) + 4 * i);
		STX(W, R6, v6 ? (int16_t)(CTX(user_ip6) + 4 * i) : CTX(user_ip4), R1);
	}
	LDX(W, R1, R9, offsetof(struct rev, orig_port));
	STX(W, R6, CTX(user_port), R1);
	LABEL(L_OUT);
	MOVI(R0, 1);
	EXIT();
}

/* ---- objects ------------------------------------------------------------ */

static int map_create(enum bpf_map_type t, const char *name, unsigned ks, unsigned vs, unsigned max, unsigned flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = t;
	a.key_size = ks;
	a.value_size = vs;
	a.max_entries = max;
	a.map_flags = flags;
	snprintf(a.map_name, sizeof(a.map_name), "%s", name);
	return (int)sys_bpf(BPF_MAP_CREATE, &a);
}

static int prog_load(int which, int map4, int map6, int rev, char *log, size_t loglen)
{
	static struct prog pr;
	struct prog *p = &pr;
	memset(p, 0, sizeof(*p));
	switch (which) {
	case 0:
		prog_connect4(p, map4, rev);
		break;
	case 1:
		prog_connect6(p, map6, rev);
		break;
	default:
		prog_getpeername(p, rev, which == 3);
	}
	if (p->bad) {
		errno = E2BIG;
		return -1;
	}
	resolve(p);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
	a.expected_attach_type = prog_types[which];
	a.insns = (uint64_t)(uintptr_t)p->v;
	a.insn_cnt = (uint32_t)p->n;
	a.license = (uint64_t)(uintptr_t)"Dual MIT/GPL";
	snprintf(a.prog_name, sizeof(a.prog_name), "%s", prog_names[which]);
	int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (fd < 0 && log) { /* again, for the verifier's words */
		int e = errno;
		log[0] = 0;
		a.log_buf = (uint64_t)(uintptr_t)log;
		a.log_size = (uint32_t)loglen;
		a.log_level = 1;
		(void)sys_bpf(BPF_PROG_LOAD, &a);
		errno = e;
	}
	return fd;
}

static int obj_info(int fd, void *info, uint32_t len)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = len;
	a.info.info = (uint64_t)(uintptr_t)info;
	return (int)sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a);
}

/* Our program attached to the cgroup for attach type t: its fd, or -1. */
static int find_prog(int cgfd, int which)
{
	uint32_t ids[64], cnt = 64;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.query.target_fd = (uint32_t)cgfd;
	a.query.attach_type = prog_types[which];
	a.query.prog_ids = (uint64_t)(uintptr_t)ids;
	a.query.prog_cnt = cnt;
	if (sys_bpf(BPF_PROG_QUERY, &a) < 0)
		return -1;
	cnt = a.query.prog_cnt < 64 ? a.query.prog_cnt : 64;
	for (uint32_t i = 0; i < cnt; i++) {
		union bpf_attr g;
		memset(&g, 0, sizeof(g));
		g.prog_id = ids[i];
		int fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
		if (fd < 0)
			continue;
		struct bpf_prog_info info;
		memset(&info, 0, sizeof(info));
		if (obj_info(fd, &info, sizeof(info)) == 0 && !strcmp(info.name, prog_names[which]))
			return fd;
		close(fd);
	}
	return -1;
}

/* The map of prog named name, or -1. */
static int prog_map(int progfd, const char *name)
{
	uint32_t ids[8] = { 0 };
	struct bpf_prog_info info;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 8;
	info.map_ids = (uint64_t)(uintptr_t)ids;
	if (obj_info(progfd, &info, sizeof(info)) < 0)
		return -1;
	for (uint32_t i = 0; i < info.nr_map_ids && i < 8; i++) {
		union bpf_attr g;
		memset(&g, 0, sizeof(g));
		g.map_id = ids[i];
		int fd = (int)sys_bpf(BPF_MAP_GET_FD_BY_ID, &g);
		if (fd < 0)
			continue;
		struct bpf_map_info mi;
		memset(&mi, 0, sizeof(mi));
		if (obj_info(fd, &mi, sizeof(mi)) == 0 && !strcmp(mi.name, name))
			return fd;
		close(fd);
	}
	return -1;
}

static int open_cgroup2(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct statfs st;
	if (fd >= 0 && (fstatfs(fd, &st) < 0 || st.f_type != CGROUP2_SUPER_MAGIC)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The root of the cgroup2 hierarchy: where it is mounted (hybrid hosts:
 * .../unified), else through init's view (callers under `ip netns exec`
 * see a /sys without cgroups), else from a private, never attached
 * instance (no cgroup2 mounted anywhere; the hierarchy exists all the same,
 * every process in it), which costs ~13 ms here (cgroup2 get_tree). */
static int cgroup2_root(void)
{
	static const char *const paths[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup",
					     "/proc/1/root/sys/fs/cgroup/unified", "/proc/1/root/sys/fs/cgroup" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int fd = open_cgroup2(paths[i]);
		if (fd >= 0)
			return fd;
	}
	int mnt = cni_detached_mount("cgroup2");
	if (mnt >= 0) { /* a mount fd is O_PATH: no flock, no BPF attach on it */
		int d = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(mnt);
		mnt = d;
	}
	return mnt < 0 ? -1 : mnt;
}

uint64_t cni_netns_cookie(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 0;
	uint64_t c = 0;
	socklen_t l = sizeof(c);
	if (getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &c, &l) < 0)
		c = 0;
	close(s);
	return c;
}

static void close_all(struct cni_socklb *lb)
{
	if (lb->map4 >= 0)
		close(lb->map4);
	if (lb->map6 >= 0)
		close(lb->map6);
	for (int i = 0; i < 4; i++)
		if (lb->prog[i] >= 0)
			close(lb->prog[i]);
	lb->map4 = lb->map6 = -1;
	for (int i = 0; i < 4; i++)
		lb->prog[i] = -1;
}

static void detach_all(struct cni_socklb *lb)
{
	for (int i = 0; i < 4; i++) {
		if (lb->prog[i] < 0)
			continue;
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.target_fd = (uint32_t)lb->cgfd;
		a.attach_bpf_fd = (uint32_t)lb->prog[i];
		a.attach_type = prog_types[i];
		(void)sys_bpf(BPF_PROG_DETACH, &a);
	}
}

static int install(struct cni_socklb *lb, struct cni_error *err)
{
	int rev = map_create(BPF_MAP_TYPE_LRU_HASH, REV_NAME, 8, sizeof(struct rev), MAX_SOCKETS, 0);
	lb->map4 = map_create(BPF_MAP_TYPE_HASH, MAP4_NAME, sizeof(struct key4), sizeof(struct val4), MAX_PORTS,
			      BPF_F_NO_PREALLOC);
	lb->map6 = map_create(BPF_MAP_TYPE_HASH, MAP6_NAME, sizeof(struct key6), sizeof(struct val6), MAX_PORTS,
			      BPF_F_NO_PREALLOC);
	if (rev < 0 || lb->map4 < 0 || lb->map6 < 0) {
		int e = errno;
		if (rev >= 0)
			close(rev);
		close_all(lb);
		cni_errorf_errno(err, CNI_ERR_KERNEL_FEATURE, e, "socket-level port publishing: cannot create BPF maps");
		return 0;
	}
	static char log[16384];
	for (int i = 0; i < 4; i++) {
		lb->prog[i] = prog_load(i, lb->map4, lb->map6, rev, log, sizeof(log));
		if (lb->prog[i] < 0) {
			int e = errno;
			close(rev);
			close_all(lb);
			size_t l = strlen(log);
			cni_errorf_errno(err, CNI_ERR_KERNEL_FEATURE, e, "socket-level port publishing: program %s refused%s%.200s",
					 prog_names[i], l ? ": " : "", l > 200 ? log + l - 200 : log);
			return 0;
		}
	}
	close(rev);
	/* connect last: a getpeername program without its connect is harmless */
	static const int order[4] = { 2, 3, 0, 1 };
	for (int k = 0; k < 4; k++) {
		int i = order[k];
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.target_fd = (uint32_t)lb->cgfd;
		a.attach_bpf_fd = (uint32_t)lb->prog[i];
		a.attach_type = prog_types[i];
		a.attach_flags = BPF_F_ALLOW_MULTI;
		if (sys_bpf(BPF_PROG_ATTACH, &a) < 0) {
			int e = errno;
			detach_all(lb);
			close_all(lb);
			cni_errorf_errno(err, CNI_ERR_KERNEL_FEATURE, e, "socket-level port publishing: cannot attach %s",
					 prog_names[i]);
			return 0;
		}
	}
	return 1;
}

/* The lock and the object ids live in /run (tmpfs: gone with a reboot, as
 * the programs are), so that a caller finds the maps without the cgroup:
 * under `ip netns exec` reaching the cgroup2 root costs a private mount. */
#define RUN_DIR "/run/cni-c"
#define IDS_PATH RUN_DIR "/socklb-v1.ids" /* the layout version of the names above */

static uint32_t obj_id(int fd)
{
	struct bpf_prog_info info; /* id is the first field of map and prog info alike */
	memset(&info, 0, sizeof(info));
	return obj_info(fd, &info, sizeof(uint32_t) * 2) == 0 ? info.id : 0;
}

static int fd_by_id(bool map, uint32_t id, const char *name)
{
	union bpf_attr g;
	memset(&g, 0, sizeof(g));
	if (map)
		g.map_id = id;
	else
		g.prog_id = id;
	int fd = (int)sys_bpf(map ? BPF_MAP_GET_FD_BY_ID : BPF_PROG_GET_FD_BY_ID, &g);
	if (fd < 0)
		return -1;
	char got[BPF_OBJ_NAME_LEN] = "";
	if (map) {
		struct bpf_map_info mi;
		memset(&mi, 0, sizeof(mi));
		if (obj_info(fd, &mi, sizeof(mi)) == 0)
			memcpy(got, mi.name, sizeof(got));
	} else {
		struct bpf_prog_info pi;
		memset(&pi, 0, sizeof(pi));
		if (obj_info(fd, &pi, sizeof(pi)) == 0)
			memcpy(got, pi.name, sizeof(got));
	}
	if (strncmp(got, name, sizeof(got))) { /* an id used again by another object */
		close(fd);
		return -1;
	}
	return fd;
}

/* programs and maps from the ids file; 1 when all are there */
static int load_ids(struct cni_socklb *lb)
{
	FILE *f = fopen(IDS_PATH, "re");
	if (!f)
		return 0;
	unsigned v[6];
	int n = fscanf(f, "%u %u %u %u %u %u", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
	fclose(f);
	if (n != 6)
		return 0;
	for (int i = 0; i < 4; i++)
		if ((lb->prog[i] = fd_by_id(false, v[i], prog_names[i])) < 0)
			return 0;
	lb->map4 = fd_by_id(true, v[4], MAP4_NAME);
	lb->map6 = fd_by_id(true, v[5], MAP6_NAME);
	return lb->map4 >= 0 && lb->map6 >= 0;
}

static void save_ids(const struct cni_socklb *lb)
{
	char line[80];
	int n = snprintf(line, sizeof(line), "%u %u %u %u %u %u\n", obj_id(lb->prog[0]), obj_id(lb->prog[1]),
			 obj_id(lb->prog[2]), obj_id(lb->prog[3]), obj_id(lb->map4), obj_id(lb->map6));
	if (n > 0 && (size_t)n < sizeof(line))
		(void)cni_file_replace(IDS_PATH, line, (size_t)n, false, 0644);
}

int cni_socklb_open(struct cni_socklb *lb, bool create, struct cni_error *err)
{
	lb->cgfd = lb->lockfd = lb->map4 = lb->map6 = -1;
	for (int i = 0; i < 4; i++)
		lb->prog[i] = -1;
	lb->netns = cni_netns_cookie();
	if (!lb->netns) {
		cni_errorf(err, CNI_ERR_KERNEL_FEATURE, "socket-level port publishing: no netns cookie");
		return 0;
	}
	struct cni_error ignore = { 0 }; /* no /run: the cgroup is locked instead */
	lb->lockfd = nft_lock_file(RUN_DIR, "socklb.lock", &ignore);
	if (lb->lockfd >= 0 && load_ids(lb))
		return 1;
	close_all(lb);
	lb->cgfd = cgroup2_root();
	if (lb->cgfd < 0) {
		cni_errorf(err, CNI_ERR_KERNEL_FEATURE, "socket-level port publishing: no cgroup2 hierarchy");
		return 0;
	}
	/* no /run: the cgroup directory is the other thing every caller shares */
	while (lb->lockfd < 0 && flock(lb->cgfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return cni_errorf_errno(err, CNI_ERR_IO, errno, "cannot lock the cgroup2 root");
	for (int i = 0; i < 4; i++)
		lb->prog[i] = find_prog(lb->cgfd, i);
	if (lb->prog[0] >= 0 && lb->prog[1] >= 0 && lb->prog[2] >= 0 && lb->prog[3] >= 0) {
		lb->map4 = prog_map(lb->prog[0], MAP4_NAME);
		lb->map6 = prog_map(lb->prog[1], MAP6_NAME);
		if (lb->map4 >= 0 && lb->map6 >= 0) {
			save_ids(lb);
			return 1;
		}
	}
	/* partial (a crash between attaches) or absent */
	detach_all(lb);
	close_all(lb);
	if (!create) {
		cni_errorf(err, CNI_ERR_NOT_FOUND, "socket-level port publishing is not attached");
		return 0;
	}
	int r = install(lb, err);
	if (r == 1)
		save_ids(lb);
	return r;
}

void cni_socklb_close(struct cni_socklb *lb, bool detach_if_empty)
{
	if (detach_if_empty && lb->map4 >= 0 && lb->map6 >= 0) {
		/* from a key that is never there (netns cookies start at 1): the
		 * first key, as a NULL key would give */
		uint8_t none[sizeof(struct key6)] = { 0 }, next[sizeof(struct key6)];
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)lb->map4;
		a.key = (uint64_t)(uintptr_t)none;
		a.next_key = (uint64_t)(uintptr_t)next;
		bool empty4 = sys_bpf(BPF_MAP_GET_NEXT_KEY, &a) < 0 && errno == ENOENT;
		a.map_fd = (uint32_t)lb->map6;
		bool empty6 = sys_bpf(BPF_MAP_GET_NEXT_KEY, &a) < 0 && errno == ENOENT;
		if (empty4 && empty6) {
			if (lb->cgfd < 0)
				lb->cgfd = cgroup2_root();
			if (lb->cgfd >= 0) {
				detach_all(lb);
				cni_file_remove(IDS_PATH);
			}
		}
	}
	close_all(lb);
	if (lb->cgfd >= 0)
		close(lb->cgfd); /* drops the lock when it was there */
	if (lb->lockfd >= 0)
		close(lb->lockfd);
	lb->cgfd = lb->lockfd = -1;
}

int cni_socklb_count(int counts[4], struct cni_error *err)
{
	int cg = cgroup2_root();
	if (cg < 0)
		return cni_errorf(err, CNI_ERR_KERNEL_FEATURE, "socket-level port publishing: no cgroup2 hierarchy");
	for (int i = 0; i < 4; i++) {
		uint32_t ids[64];
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.query.target_fd = (uint32_t)cg;
		a.query.attach_type = prog_types[i];
		a.query.prog_ids = (uint64_t)(uintptr_t)ids;
		a.query.prog_cnt = 64;
		counts[i] = 0;
		if (sys_bpf(BPF_PROG_QUERY, &a) < 0)
			continue;
		for (uint32_t k = 0; k < a.query.prog_cnt && k < 64; k++) {
			int fd = fd_by_id(false, ids[k], prog_names[i]);
			if (fd >= 0) {
				counts[i]++;
				close(fd);
			}
		}
	}
	close(cg);
	return 0;
}

/* ---- entries ------------------------------------------------------------ */

static void make_key(const struct cni_socklb *lb, const struct socklb_port *p, void *key)
{
	if (p->family == AF_INET) {
		struct key4 *k = key;
		memset(k, 0, sizeof(*k));
		k->netns = lb->netns;
		memcpy(&k->addr, p->host_ip, 4);
		k->port = htons(p->host_port);
		k->proto = IPPROTO_TCP;
	} else {
		struct key6 *k = key;
		memset(k, 0, sizeof(*k));
		k->netns = lb->netns;
		memcpy(k->addr, p->host_ip, 16);
		k->port = htons(p->host_port);
		k->proto = IPPROTO_TCP;
	}
}

static void make_val(const struct socklb_port *p, void *val)
{
	if (p->family == AF_INET) {
		struct val4 *v = val;
		memset(v, 0, sizeof(*v));
		memcpy(&v->addr, p->dst_ip, 4);
		v->port = htons(p->dst_port);
		v->flags = p->flags;
	} else {
		struct val6 *v = val;
		memset(v, 0, sizeof(*v));
		memcpy(v->addr, p->dst_ip, 16);
		v->port = htons(p->dst_port);
		v->flags = p->flags;
	}
}

static int map_of(const struct cni_socklb *lb, int family)
{
	return family == AF_INET ? lb->map4 : lb->map6;
}

static int elem(int cmd, int fd, const void *key, void *val, uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uint64_t)(uintptr_t)key;
	a.value = (uint64_t)(uintptr_t)val;
	a.flags = flags;
	return (int)sys_bpf(cmd, &a);
}

int cni_socklb_put(struct cni_socklb *lb, const struct socklb_port *p, struct cni_error *err)
{
	uint8_t key[sizeof(struct key6)], val[sizeof(struct val6)];
	make_key(lb, p, key);
	make_val(p, val);
	if (elem(BPF_MAP_UPDATE_ELEM, map_of(lb, p->family), key, val, BPF_ANY) < 0)
		return cni_errorf_errno(err, CNI_ERR_INTERNAL, errno, "socket-level port publishing: cannot add port %u",
					p->host_port);
	return 0;
}

/* Does the entry for p exist and point at p's destination (and owner)? */
static int entry_is(struct cni_socklb *lb, const struct socklb_port *p, struct cni_error *err)
{
	uint8_t key[sizeof(struct key6)], want[sizeof(struct val6)], got[sizeof(struct val6)];
	make_key(lb, p, key);
	make_val(p, want);
	if (elem(BPF_MAP_LOOKUP_ELEM, map_of(lb, p->family), key, got, 0) < 0) {
		if (errno == ENOENT)
			return 0;
		return cni_errorf_errno(err, CNI_ERR_INTERNAL, errno, "socket-level port publishing: lookup");
	}
	return !memcmp(want, got, p->family == AF_INET ? sizeof(struct val4) : sizeof(struct val6));
}

int cni_socklb_del(struct cni_socklb *lb, const struct socklb_port *p, struct cni_error *err)
{
	int r = entry_is(lb, p, err);
	if (r <= 0)
		return r;
	uint8_t key[sizeof(struct key6)];
	make_key(lb, p, key);
	if (elem(BPF_MAP_DELETE_ELEM, map_of(lb, p->family), key, NULL, 0) < 0 && errno != ENOENT)
		return cni_errorf_errno(err, CNI_ERR_INTERNAL, errno, "socket-level port publishing: cannot remove port %u",
					p->host_port);
	return 0;
}

int cni_socklb_sweep(struct cni_socklb *lb, bool (*keep)(const struct socklb_port *p, void *arg), void *arg,
		     struct cni_error *err)
{
	int gone = 0;
	for (int f = 0; f < 2; f++) {
		int fd = f ? lb->map6 : lb->map4;
		size_t ks = f ? sizeof(struct key6) : sizeof(struct key4);
		/* the doomed keys are deleted after the walk: a walk from a
		 * deleted key would start over */
		uint8_t *doomed = NULL;
		size_t n_doomed = 0;
		/* starts from a key that is never there (cookie 0): the first */
		uint8_t cur[sizeof(struct key6)] = { 0 }, next[sizeof(struct key6)], val[sizeof(struct val6)];
		for (;;) {
			union bpf_attr a;
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)fd;
			a.key = (uint64_t)(uintptr_t)cur;
			a.next_key = (uint64_t)(uintptr_t)next;
			if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &a) < 0) {
				if (errno == ENOENT)
					break;
				free(doomed);
				return cni_errorf_errno(err, CNI_ERR_INTERNAL, errno, "socket-level port publishing: walk");
			}
			memcpy(cur, next, ks);
			if (elem(BPF_MAP_LOOKUP_ELEM, fd, cur, val, 0) < 0)
				continue;
			struct socklb_port p;
			memset(&p, 0, sizeof(p));
			p.family = f ? AF_INET6 : AF_INET;
			if (f) {
				const struct key6 *k = (const void *)cur;
				const struct val6 *v = (const void *)val;
				if (lb->netns && k->netns != lb->netns)
					continue;
				memcpy(p.host_ip, k->addr, 16);
				p.host_port = ntohs(k->port);
				memcpy(p.dst_ip, v->addr, 16);
				p.dst_port = ntohs(v->port);
				p.flags = v->flags;
			} else {
				const struct key4 *k = (const void *)cur;
				const struct val4 *v = (const void *)val;
				if (lb->netns && k->netns != lb->netns)
					continue;
				memcpy(p.host_ip, &k->addr, 4);
				p.host_port = ntohs(k->port);
				memcpy(p.dst_ip, &v->addr, 4);
				p.dst_port = ntohs(v->port);
				p.flags = v->flags;
			}
			if (keep(&p, arg))
				continue;
			uint8_t *d = realloc(doomed, (n_doomed + 1) * ks);
			if (!d) {
				free(doomed);
				return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			}
			doomed = d;
			memcpy(doomed + n_doomed++ * ks, cur, ks);
		}
		for (size_t i = 0; i < n_doomed; i++)
			if (elem(BPF_MAP_DELETE_ELEM, fd, doomed + i * ks, NULL, 0) == 0)
				gone++;
		free(doomed);
	}
	return gone;
}
