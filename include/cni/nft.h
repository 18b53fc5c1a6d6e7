/* nftables plumbing shared by masquerade and portmap (libnftnl + libmnl).
 *
 * Everything this suite installs lives in ONE table, `inet cni_c` (see
 * pkg/netfilter/README.md for the full layout). Objects are created lazily
 * and idempotently (NLM_F_CREATE without NLM_F_EXCL) in the same batch as
 * the change that needs them, so concurrent plugin processes race safely.
 *
 * Per-attachment state is kept as set/map elements tagged (element comment)
 * with "<container id>/<ifname>", plus a small record file per attachment
 * listing the elements it owns, so DEL is O(1) and needs no addresses.
 * DEL "expires" elements (timeout update, kernel >= 6.12) instead of deleting
 * them: no RCU grace period at socket close (kernel-floor.md section 5). */
#ifndef CNI_NFT_H
#define CNI_NFT_H

#include <jansson.h>
#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <stdbool.h>
#include <stdint.h>

#include "cni/common.h"
#include "cni/ip.h"
#include "cni/masq.h"

#define CNI_NFT_TABLE "cni_c"
#define CNI_NFT_FAMILY 1 /* NFPROTO_INET: the default family (cni_nft_open) */

/* Newer than the Debian 12 uapi header. */
#ifndef NFT_MSG_DESTROYSETELEM
#define NFT_MSG_DESTROYSETELEM 30
#endif

/* Element tag (comment): "<net>/<cid>/<ifname>", or "#<net hash>/<hash>"
 * when that is too long. None of the three may contain '/'. */
#define NFT_TAG_MAX 128
void nft_tag(char out[NFT_TAG_MAX], const char *net, const char *cid, const char *ifname);
/* Does the tag belong to network net? */
bool nft_tag_in_net(const char *tag, const char *net);

/* An object name: prefix + network name, hashed when too long for nft. */
#define NFT_NAME_MAX 64
void nft_name(char out[NFT_NAME_MAX], const char *prefix, const char *net);

struct cni_nft {
	struct mnl_socket *nl;
	unsigned portid;
	uint32_t seq;
	bool can_expire; /* kernel applies element timeout updates (>= 6.12) */
	uint8_t family;  /* NFPROTO_INET (table inet cni_c) or NFPROTO_BRIDGE (table bridge cni_c) */
};

/* A socket whose batches and queries address table `cni_c` of another
 * family (NFPROTO_BRIDGE for macspoofchk); cni_nft_open() is NFPROTO_INET. */
struct cni_nft *cni_nft_open_family(uint8_t family, struct cni_error *err);
const char *nft_family_name(const struct cni_nft *nft);

/* ---- batches ---------------------------------------------------------- */

struct nft_batch {
	struct cni_nft *nft;
	char *buf;
	size_t len, cap;
	uint32_t seq0;   /* seq of the first message after BEGIN */
	unsigned n;      /* messages between BEGIN and END */
	char **what;     /* description per message, for error text */
	bool oom;
};

void nftb_init(struct nft_batch *b, struct cni_nft *nft);
void nftb_free(struct nft_batch *b);
static inline void nftb_freep(struct nft_batch *b) { nftb_free(b); }
#define _cleanup_batch_ _cleanup_(nftb_freep)

/* Start a message; the caller fills the payload with nftnl_*_build_payload.
 * At most 64 KiB per message. NULL on OOM (commit then reports it). */
struct nlmsghdr *nftb_msg(struct nft_batch *b, uint16_t type, uint16_t flags, const char *what, ...)
	__attribute__((format(printf, 4, 5)));

/* Ready-made messages. All creations are NLM_F_CREATE without EXCL. */
void nftb_table(struct nft_batch *b);
/* hook < 0: a regular chain. type "nat"/"filter". */
void nftb_chain(struct nft_batch *b, const char *name, int hook, int prio, const char *type);
void nftb_set(struct nft_batch *b, struct nftnl_set *s, uint16_t flags);
/* type NFT_MSG_NEWSETELEM / NFT_MSG_DESTROYSETELEM / NFT_MSG_DELSETELEM;
 * elements are those added to s. */
void nftb_elems(struct nft_batch *b, uint16_t type, struct nftnl_set *s, uint16_t flags);
void nftb_rule(struct nft_batch *b, struct nftnl_rule *r);

/* Send BEGIN + messages + END, read every ACK. On failure err names the
 * failing message (code 103) and the errno is returned negated through
 * *errnum (ENOENT, EEXIST, ...) when errnum is not NULL. Empty batch: 0. */
int nftb_commit(struct nft_batch *b, int *errnum, struct cni_error *err);

/* ---- objects ---------------------------------------------------------- */

/* A set description in table inet cni_c. key_type/data_type are nft type
 * ids (concatenations composed with nft_concat_type). */
struct nftnl_set *nft_set_new(const char *name, uint32_t flags, uint32_t key_type, uint32_t key_len,
			      uint32_t data_type, uint32_t data_len);
/* nft datatype ids (nftables src/datatype.h) */
enum { NFT_TYPE_VERDICT = 1, NFT_TYPE_IPADDR = 7, NFT_TYPE_IP6ADDR = 8, NFT_TYPE_INET_PROTO = 12,
       NFT_TYPE_INET_SERVICE = 13 };
uint32_t nft_concat_type(const uint32_t *types, int n);

/* A reference to set `name` of table cni_c (for element messages), or NULL. */
struct nftnl_set *nft_set_ref(const char *name);

/* Add an element to s. key_end may be NULL; data may be NULL; tag may be
 * NULL; timeout_ms/expire_ms 0 = not set. */
int nft_elem_add(struct nftnl_set *s, const void *key, size_t keylen, const void *key_end, const void *data,
		 size_t datalen, const char *tag, uint64_t timeout_ms, uint64_t expire_ms);

/* Add the interval [network, broadcast] of c to an interval set. */
int nft_elem_add_prefix(struct nftnl_set *s, const struct cni_cidr *c);
/* Add the end element of an interval: key is the first address after it. */
int nft_elem_add_end(struct nftnl_set *s, const void *key, size_t keylen);

/* Rule building: rule in table inet cni_c, chain `chain`. */
struct nftnl_rule *nft_rule_new(const char *chain, const char *comment);
void nftr_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg);
void nftr_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len);
void nftr_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg);
/* dreg 0 = plain set lookup */
void nftr_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set, uint32_t dreg, bool inv);
void nftr_bitwise(struct nftnl_rule *r, uint32_t sreg, uint32_t dreg, const void *mask, uint32_t len);
void nftr_masq(struct nftnl_rule *r);
void nftr_dnat(struct nftnl_rule *r, int nfproto, uint32_t reg_addr, uint32_t reg_proto);
void nftr_fib_daddr_type(struct nftnl_rule *r, uint32_t dreg);
void nftr_ct(struct nftnl_rule *r, uint32_t key, uint32_t dreg);
void nftr_verdict(struct nftnl_rule *r, int verdict, const char *chain);
void nftr_counter(struct nftnl_rule *r);
/* Convenience: meta nfproto == p */
void nftr_nfproto(struct nftnl_rule *r, uint8_t nfproto);

/* Queue the deletion of every rule of `chain` whose comment is `comment`
 * (dumps that one chain: for GC and network teardown only). Returns how
 * many were queued, or -1. */
int nftb_del_rules_by_comment(struct nft_batch *b, const char *chain, const char *comment, struct cni_error *err);
/* Queue DESTROYSET (no error when already gone). */
void nftb_del_set(struct nft_batch *b, const char *name);
#ifndef NFT_MSG_DESTROYSET
#define NFT_MSG_DESTROYSET 29
#endif

/* ---- queries ---------------------------------------------------------- */

/* 1 = set exists, 0 = table or set missing, -1 = error. */
int nft_set_exists(struct cni_nft *nft, const char *set, struct cni_error *err);

/* One element by key (exact, or the interval containing it). 1 found,
 * 0 missing (or set/table missing), -1 error. tag/data may be NULL. */
struct nft_elem_info {
	char tag[NFT_TAG_MAX];
	uint8_t key[64], key_end[64], data[64];
	uint32_t keylen, key_endlen, datalen;
	uint32_t flags;
	bool expiring; /* has a timeout: released by a DEL, about to vanish */
};
int nft_elem_get(struct cni_nft *nft, const char *set, const void *key, size_t keylen,
		 struct nft_elem_info *out, struct cni_error *err);

/* Every element of a set (GC only). cb returns 0 to go on, -1 to stop.
 * Missing set: 0 with no callback. */
int nft_elem_dump(struct cni_nft *nft, const char *set,
		  int (*cb)(void *arg, const struct nft_elem_info *e), void *arg, struct cni_error *err);

/* ---- owned elements and their records --------------------------------- */

/* One element owned by an attachment, as stored in its record. */
struct nft_owned {
	char set[NFT_NAME_MAX];
	uint8_t key[64], data[64];
	uint32_t keylen, datalen;
};

/* Record path: <state dir>/<kind>/<net>/<cid>:<ifname> (hashed when long).
 * The state dir is /var/lib/cni/cni-c, or $CNI_C_STATE_DIR. */
int nft_record_path(char *out, size_t len, const char *kind, const char *net, const char *cid,
		    const char *ifname);
int nft_record_dir(char *out, size_t len, const char *kind, const char *net);
/* Write atomically: {"cid","ifname","elements":[{set,key,data}],"extra":...}.
 * extra (may be NULL) is stored as given (borrowed). */
int nft_record_write(const char *path, const char *cid, const char *ifname, const struct nft_owned *el,
		     size_t n, json_t *extra, struct cni_error *err);
/* Read; *present false (and 0) when the file does not exist. *extra gets a
 * new reference or NULL. */
int nft_record_read(const char *path, struct nft_owned **el, size_t *n, json_t **extra, char **cid,
		    char **ifname, bool *present, struct cni_error *err);

/* Add to batch b the removal (expiry, or DESTROYSETELEM on older kernels)
 * of the elements of `el` that are present and tagged `tag`. Elements of
 * other owners are left alone. Returns how many were queued, or -1. */
int nft_queue_release(struct cni_nft *nft, struct nft_batch *b, const struct nft_owned *el, size_t n,
		      const char *tag, struct cni_error *err);

/* DEL of what an attachment owns under <kind>/<net>: read its record,
 * release (nft_queue_release) the elements still tagged with it in one
 * commit, remove the record. No record: 0 (idempotent, needs no netns). */
int nft_record_release(struct cni_nft *nft, const char *kind, const char *net, const char *cid, const char *ifname,
		       struct cni_error *err);

/* Remove every element of sets[] whose tag's attachment is not valid, plus
 * stale records under <kind>/<net>. Used by GC. */
int nft_gc_sets(struct cni_nft *nft, const char *const *sets, size_t nsets, const char *kind, const char *net,
		const struct cni_attachment *valid, size_t n_valid, struct cni_error *err);

/* An exclusive flock on <state dir>/<kind>.lock (created); fd or -1. */
int nft_state_lock(const char *kind, struct cni_error *err);
/* dir (created) / name, opened and flock'ed: the fd, or -1 with err. */
int nft_lock_file(const char *dir, const char *name, struct cni_error *err);

/* hex helpers for records */
void nft_hex(char *out, const uint8_t *b, size_t n);
int nft_unhex(uint8_t *out, size_t max, const char *s, uint32_t *n);

#endif
