/* Per-attachment records of owned nft elements, their release, and GC. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cni/json.h"
#include "cni/nft.h"

static const char *state_dir(void)
{
	const char *d = getenv("CNI_C_STATE_DIR");
	return d && *d ? d : "/var/lib/cni/cni-c";
}

int nft_record_dir(char *out, size_t len, const char *kind, const char *net)
{
	int l = snprintf(out, len, "%s/%s/%s", state_dir(), kind, net);
	return l < 0 || (size_t)l >= len ? -1 : 0;
}

int nft_record_path(char *out, size_t len, const char *kind, const char *net, const char *cid, const char *ifname)
{
	char dir[4096];
	if (nft_record_dir(dir, sizeof(dir), kind, net) < 0)
		return -1;
	int l;
	if (strlen(cid) + strlen(ifname) + 1 <= 200) {
		l = snprintf(out, len, "%s/%s:%s", dir, cid, ifname);
	} else {
		char tag[NFT_TAG_MAX];
		nft_tag(tag, "", cid, ifname); /* "#<h>/<h>" form: long input */
		l = snprintf(out, len, "%s/h-%s", dir, strrchr(tag, '/') + 1);
	}
	return l < 0 || (size_t)l >= len ? -1 : 0;
}

int nft_lock_file(const char *dir, const char *name, struct cni_error *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s", dir);
	if (cni_mkdir_p(path, 0700) < 0)
		return cni_errorf_errno(err, CNI_ERR_IO, errno, "cannot create %s", path);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return cni_errorf_errno(err, CNI_ERR_IO, errno, "cannot open %s", path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return cni_errorf_errno(err, CNI_ERR_IO, e, "cannot lock %s", path);
		}
	}
	return fd;
}

int nft_state_lock(const char *kind, struct cni_error *err)
{
	char name[256];
	snprintf(name, sizeof(name), "%s.lock", kind);
	return nft_lock_file(state_dir(), name, err);
}

int nft_record_write(const char *path, const char *cid, const char *ifname, const struct nft_owned *el, size_t n,
		     json_t *extra, struct cni_error *err)
{
	_cleanup_json_ json_t *o = json_object();
	json_t *arr = json_array();
	if (!o || !arr) {
		json_decref(arr);
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	json_object_set_new(o, "containerID", json_string(cid));
	json_object_set_new(o, "ifname", json_string(ifname));
	json_object_set_new(o, "elements", arr);
	for (size_t i = 0; i < n; i++) {
		char k[129], d[129];
		nft_hex(k, el[i].key, el[i].keylen);
		nft_hex(d, el[i].data, el[i].datalen);
		json_array_append_new(arr, json_pack("{ssssss}", "set", el[i].set, "key", k, "data", d));
	}
	if (extra)
		json_object_set(o, "extra", extra);
	_cleanup_free_ char *text = json_dumps(o, JSON_COMPACT);
	if (!text)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");

	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return cni_errorf(err, CNI_ERR_IO, "bad record path %s", path);
	*slash = 0;
	if (cni_mkdir_p(dir, 0700) < 0)
		return cni_errorf_errno(err, CNI_ERR_IO, errno, "cannot create %s", dir);
	int r = cni_file_replace(path, text, strlen(text), false, 0600);
	if (r < 0)
		return cni_errorf_errno(err, CNI_ERR_IO, -r, "cannot write %s", path);
	return 0;
}

int nft_record_read(const char *path, struct nft_owned **el, size_t *n, json_t **extra, char **cid, char **ifname,
		    bool *present, struct cni_error *err)
{
	*el = NULL;
	*n = 0;
	*present = false;
	if (extra)
		*extra = NULL;
	if (cid)
		*cid = NULL;
	if (ifname)
		*ifname = NULL;
	json_error_t je;
	_cleanup_json_ json_t *o = json_load_file(path, 0, &je);
	if (!o) {
		if (access(path, F_OK) < 0 && errno == ENOENT)
			return 0;
		return cni_errorf(err, CNI_ERR_IO, "cannot read record %s: %s", path, je.text);
	}
	*present = true;
	json_t *arr = json_object_get(o, "elements");
	size_t len = json_is_array(arr) ? json_array_size(arr) : 0;
	*el = cni_xcalloc(len, sizeof(**el));
	if (!*el)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < len; i++) {
		json_t *e = json_array_get(arr, i);
		const char *set = json_string_value(json_object_get(e, "set"));
		const char *k = json_string_value(json_object_get(e, "key"));
		const char *d = json_string_value(json_object_get(e, "data"));
		struct nft_owned *w = &(*el)[*n];
		if (!set || !k || !d || strlen(set) >= sizeof(w->set) ||
		    nft_unhex(w->key, sizeof(w->key), k, &w->keylen) < 0 ||
		    nft_unhex(w->data, sizeof(w->data), d, &w->datalen) < 0)
			continue;
		snprintf(w->set, sizeof(w->set), "%s", set);
		(*n)++;
	}
	if (extra) {
		json_t *x = json_object_get(o, "extra");
		*extra = x ? json_incref(x) : NULL;
	}
	if (cid)
		*cid = cni_strdup(json_string_value(json_object_get(o, "containerID")));
	if (ifname)
		*ifname = cni_strdup(json_string_value(json_object_get(o, "ifname")));
	return 0;
}

/* Queue the removal of one element: an expiry update (timeout 1 ms,
 * expiration 1 ms), which queues no destroy work and so costs no RCU grace
 * period when the socket closes; on kernels without timeout updates a
 * DESTROYSETELEM (no error when it is already gone). */
static int queue_one(struct cni_nft *nft, struct nft_batch *b, const char *set, const struct nft_elem_info *e)
{
	struct nftnl_set *s = nft_set_ref(set);
	if (!s)
		return -1;
	const void *data = e->datalen ? e->data : NULL;
	const void *kend = e->key_endlen ? e->key_end : NULL;
	int r;
	if (nft->can_expire) {
		r = nft_elem_add(s, e->key, e->keylen, kend, data, e->datalen, NULL, 1, 1);
		if (!r)
			nftb_elems(b, NFT_MSG_NEWSETELEM, s, 0);
	} else {
		r = nft_elem_add(s, e->key, e->keylen, kend, NULL, 0, NULL, 0, 0);
		if (!r)
			nftb_elems(b, NFT_MSG_DESTROYSETELEM, s, 0);
	}
	nftnl_set_free(s);
	return r;
}

int nft_queue_release(struct cni_nft *nft, struct nft_batch *b, const struct nft_owned *el, size_t n, const char *tag,
		      struct cni_error *err)
{
	int queued = 0;
	for (size_t i = 0; i < n; i++) {
		struct nft_elem_info info;
		int r = nft_elem_get(nft, el[i].set, el[i].key, el[i].keylen, &info, err);
		if (r < 0)
			return -1;
		if (r == 0 || strcmp(info.tag, tag) || info.expiring)
			continue; /* gone, released already, or owned by someone else now */
		if (queue_one(nft, b, el[i].set, &info) < 0)
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		queued++;
	}
	return queued;
}

int nft_record_release(struct cni_nft *nft, const char *kind, const char *net, const char *cid, const char *ifname,
		       struct cni_error *err)
{
	char tag[NFT_TAG_MAX], path[4400];
	nft_tag(tag, net, cid, ifname);
	if (nft_record_path(path, sizeof(path), kind, net, cid, ifname) < 0)
		return cni_errorf(err, CNI_ERR_INTERNAL, "%s: record path too long", kind);
	_cleanup_free_ struct nft_owned *el = NULL;
	size_t n = 0;
	bool present;
	if (nft_record_read(path, &el, &n, NULL, NULL, NULL, &present, err) < 0)
		return -1;
	if (!present) { /* a "<path>.tmp" can only be of an ADD killed before its commit */
		int r = cni_file_remove(path);
		return r < 0 ? cni_errorf_errno(err, CNI_ERR_IO, -r, "cannot remove %s", path) : 0;
	}
	_cleanup_batch_ struct nft_batch b;
	nftb_init(&b, nft);
	if (nft_queue_release(nft, &b, el, n, tag, err) < 0 || nftb_commit(&b, NULL, err) < 0)
		return -1;
	int r = cni_file_remove(path);
	if (r < 0)
		return cni_errorf_errno(err, CNI_ERR_IO, -r, "cannot remove %s", path);
	return 0;
}

/* ---- GC --------------------------------------------------------------- */

struct gc_ctx {
	struct cni_nft *nft;
	struct nft_batch *b;
	const char *set, *net;
	char (*valid)[NFT_TAG_MAX];
	size_t n_valid;
	int fail;
};

static int gc_elem(void *arg, const struct nft_elem_info *e)
{
	struct gc_ctx *g = arg;
	if (!e->tag[0] || e->expiring || !nft_tag_in_net(e->tag, g->net))
		return 0;
	for (size_t i = 0; i < g->n_valid; i++)
		if (!strcmp(g->valid[i], e->tag))
			return 0;
	if (queue_one(g->nft, g->b, g->set, e) < 0)
		g->fail = 1;
	return 0;
}

int nft_gc_sets(struct cni_nft *nft, const char *const *sets, size_t nsets, const char *kind, const char *net,
		const struct cni_attachment *valid, size_t n_valid, struct cni_error *err)
{
	_cleanup_free_ char (*tags)[NFT_TAG_MAX] = cni_xcalloc(n_valid, NFT_TAG_MAX);
	if (!tags)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < n_valid; i++)
		nft_tag(tags[i], net, valid[i].container_id, valid[i].ifname);
	_cleanup_batch_ struct nft_batch b;
	nftb_init(&b, nft);
	for (size_t s = 0; s < nsets; s++) {
		struct gc_ctx g = { nft, &b, sets[s], net, tags, n_valid, 0 };
		if (nft_elem_dump(nft, sets[s], gc_elem, &g, err) < 0)
			return -1;
		if (g.fail)
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	int ret = nftb_commit(&b, NULL, err);

	/* stale records */
	char dir[4096];
	if (nft_record_dir(dir, sizeof(dir), kind, net) < 0)
		return ret;
	DIR *d = opendir(dir);
	if (!d)
		return ret;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[4400];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (cni_file_is_tmp(de->d_name)) {
			/* a write's temporary name: exists for microseconds, so an
			 * old one is a crash's leftover (GC holds no writer lock) */
			struct stat st;
			if (stat(path, &st) == 0 && st.st_mtime + 60 < time(NULL))
				unlink(path);
			continue;
		}
		struct nft_owned *el = NULL;
		size_t n = 0;
		bool present = false;
		_cleanup_free_ char *cid = NULL, *ifn = NULL;
		struct cni_error e2 = { 0 };
		if (nft_record_read(path, &el, &n, NULL, &cid, &ifn, &present, &e2) == 0 && present && cid && ifn &&
		    !cni_attachment_valid(valid, n_valid, cid, ifn))
			cni_file_remove(path);
		free(el);
	}
	closedir(d);
	return ret;
}
