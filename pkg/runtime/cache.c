/* libcni's result cache: <cacheDir>/results/<net>-<cid>-<ifname>, a JSON
 * object of kind "cniCacheV1" written after a successful ADD, read by
 * CHECK/DEL (prevResult) and GC (which attachments exist). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cni/json.h"
#include "cni/runtime.h"

#define CACHE_FILE_MAX (4u << 20)

void cni_cache_entry_clear(struct cni_cache_entry *e)
{
	free(e->container_id);
	free(e->ifname);
	free(e->net_name);
	free(e->netns);
	free(e->config);
	cni_args_free(e->args, e->n_args);
	if (e->cap_args)
		json_decref(e->cap_args);
	if (e->result)
		json_decref(e->result);
	memset(e, 0, sizeof(*e));
}

void cni_cache_entries_free(struct cni_cache_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cni_cache_entry_clear(&e[i]);
	free(e);
}

static const char *dir_or_default(const char *d)
{
	return d && *d ? d : CNI_RT_CACHE_DIR;
}

char *cni_cache_path(const char *cache_dir, const char *net, const char *cid, const char *ifname,
		     struct cni_error *err)
{
	if (!net || !*net || !cid || !*cid || !ifname || !*ifname) {
		cni_errorf(err, CNI_ERR_INVALID_CONFIG,
			   "cache file path requires network name (\"%s\"), container ID (\"%s\"), and interface name (\"%s\")",
			   net ? net : "", cid ? cid : "", ifname ? ifname : "");
		return NULL;
	}
	char *p = NULL;
	if (asprintf(&p, "%s/results/%s-%s-%s", dir_or_default(cache_dir), net, cid, ifname) < 0) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	return p;
}

/* Field order of libcni's cachedInfo struct; cniArgs, capabilityArgs,
 * result and netns are omitted when empty (omitempty); map values are
 * key-sorted as Go marshals maps. */
char *cni_cache_encode(const struct cni_cache_entry *e, struct cni_error *err)
{
	_cleanup_free_ char *b64 = cni_base64_encode(e->config ? e->config : "", e->config ? e->config_len : 0);
	_cleanup_json_ json_t *o = json_object();
	if (!b64 || !o)
		goto oom;
	if (json_object_set_new(o, "kind", json_string(CNI_CACHE_KIND)) < 0 ||
	    json_object_set_new(o, "containerId", json_string(e->container_id ? e->container_id : "")) < 0 ||
	    json_object_set_new(o, "config", json_string(b64)) < 0 ||
	    json_object_set_new(o, "ifName", json_string(e->ifname ? e->ifname : "")) < 0 ||
	    json_object_set_new(o, "networkName", json_string(e->net_name ? e->net_name : "")) < 0)
		goto oom;
	if (e->netns && *e->netns && json_object_set_new(o, "netns", json_string(e->netns)) < 0)
		goto oom;
	if (e->n_args) {
		json_t *a = json_array();
		if (!a || json_object_set_new(o, "cniArgs", a) < 0)
			goto oom;
		for (size_t i = 0; i < e->n_args; i++)
			if (json_array_append_new(a, json_pack("[ss]", e->args[i].key, e->args[i].value)) < 0)
				goto oom;
	}
	if (e->cap_args && json_object_size(e->cap_args)) {
		json_t *c = cni_json_sorted_copy(e->cap_args, NULL);
		if (!c || json_object_set_new(o, "capabilityArgs", c) < 0)
			goto oom;
	}
	if (e->result && json_object_size(e->result)) {
		json_t *r = cni_json_sorted_copy(e->result, NULL);
		if (!r || json_object_set_new(o, "result", r) < 0)
			goto oom;
	}
	char *s = json_dumps(o, JSON_COMPACT);
	if (!s)
		goto oom;
	return s;
oom:
	cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	return NULL;
}

static int dup_str_field(const json_t *o, const char *key, char **out, struct cni_error *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return cni_errorf(err, CNI_ERR_DECODE, "cache: \"%s\" is not a string", key);
	*out = strdup(json_string_value(v));
	return *out ? 0 : cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
}

int cni_cache_decode(const char *data, size_t len, struct cni_cache_entry *e, struct cni_error *err)
{
	memset(e, 0, sizeof(*e));
	json_error_t je;
	_cleanup_json_ json_t *o = json_loadb(data, len, 0, &je);
	if (!o || !json_is_object(o))
		return cni_errorf(err, CNI_ERR_DECODE, "cache: not a JSON object%s%s", o ? "" : ": ", o ? "" : je.text);
	json_t *kind = json_object_get(o, "kind");
	if (!json_is_string(kind) || strcmp(json_string_value(kind), CNI_CACHE_KIND))
		return cni_errorf(err, CNI_ERR_DECODE, "cache: wrong kind \"%s\"",
				  json_is_string(kind) ? json_string_value(kind) : "");
	if (dup_str_field(o, "containerId", &e->container_id, err) < 0 ||
	    dup_str_field(o, "ifName", &e->ifname, err) < 0 ||
	    dup_str_field(o, "networkName", &e->net_name, err) < 0 || dup_str_field(o, "netns", &e->netns, err) < 0)
		goto fail;
	json_t *cfg = json_object_get(o, "config");
	if (cfg && !json_is_null(cfg)) {
		if (!json_is_string(cfg) || !(e->config = cni_base64_decode(json_string_value(cfg), &e->config_len))) {
			cni_errorf(err, CNI_ERR_DECODE, "cache: \"config\" is not base64");
			goto fail;
		}
	}
	json_t *args = json_object_get(o, "cniArgs");
	if (args && !json_is_null(args)) {
		size_t i, cap = 0;
		json_t *pair;
		if (!json_is_array(args))
			goto bad_args;
		json_array_foreach(args, i, pair) {
			if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_string(json_array_get(pair, 0)) ||
			    !json_is_string(json_array_get(pair, 1)))
				goto bad_args;
			if (cni_grow((void **)&e->args, &cap, e->n_args, sizeof(*e->args)) < 0)
				goto oom;
			struct cni_arg *a = &e->args[e->n_args++];
			a->key = strdup(json_string_value(json_array_get(pair, 0)));
			a->value = strdup(json_string_value(json_array_get(pair, 1)));
			if (!a->key || !a->value)
				goto oom;
		}
	}
	json_t *caps = json_object_get(o, "capabilityArgs");
	if (caps && !json_is_null(caps)) {
		if (!json_is_object(caps)) {
			cni_errorf(err, CNI_ERR_DECODE, "cache: \"capabilityArgs\" is not an object");
			goto fail;
		}
		e->cap_args = json_incref(caps);
	}
	json_t *res = json_object_get(o, "result");
	if (res && !json_is_null(res)) {
		if (!json_is_object(res)) {
			cni_errorf(err, CNI_ERR_DECODE, "cache: \"result\" is not an object");
			goto fail;
		}
		e->result = json_incref(res);
	}
	return 0;
bad_args:
	cni_errorf(err, CNI_ERR_DECODE, "cache: \"cniArgs\" is not a list of [key, value] pairs");
	goto fail;
oom:
	cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
fail:
	cni_cache_entry_clear(e);
	return -1;
}

int cni_cache_write(const char *cache_dir, const struct cni_cache_entry *e, struct cni_error *err)
{
	_cleanup_free_ char *path = cni_cache_path(cache_dir, e->net_name, e->container_id, e->ifname, err);
	if (!path)
		return -1;
	_cleanup_free_ char *data = cni_cache_encode(e, err);
	if (!data)
		return -1;
	char *slash = strrchr(path, '/');
	*slash = '\0';
	if (cni_mkdir_p(path, 0700) < 0)
		return cni_errorf_errno(err, CNI_ERR_IO, errno, "failed to create %s", path);
	*slash = '/';
	int r = cni_file_replace(path, data, strlen(data), true, 0600);
	if (r < 0)
		return cni_errorf_errno(err, CNI_ERR_IO, -r, "failed to write %s", path);
	return 0;
}

static int read_small(const char *path, char **data, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode) || st.st_size > CACHE_FILE_MAX) {
		errno = EINVAL;
		return -1;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -1;
	size_t off = 0;
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	buf[off] = '\0';
	*data = buf;
	*len = off;
	return 0;
}

int cni_cache_read(const char *cache_dir, const char *net, const char *cid, const char *ifname,
		   struct cni_cache_entry *e, struct cni_error *err)
{
	memset(e, 0, sizeof(*e));
	_cleanup_free_ char *path = cni_cache_path(cache_dir, net, cid, ifname, err);
	if (!path)
		return -1;
	_cleanup_free_ char *data = NULL;
	size_t len;
	if (read_small(path, &data, &len) < 0)
		return 0; /* like libcni: a cache that cannot be read is no cache */
	if (cni_cache_decode(data, len, e, err) == 0)
		return 1;
	/* libcni's legacy cache: the bare result object */
	json_t *o = json_loadb(data, len, 0, NULL);
	if (o && json_is_object(o) && json_is_string(json_object_get(o, "cniVersion")) &&
	    !json_object_get(o, "kind")) {
		e->result = o;
		return 1;
	}
	if (o)
		json_decref(o);
	return cni_error_wrap(err, "failed to read cached network \"%s\" result", net);
}

int cni_cache_remove(const char *cache_dir, const char *net, const char *cid, const char *ifname)
{
	_cleanup_free_ char *path = cni_cache_path(cache_dir, net, cid, ifname, NULL);
	if (!path)
		return 0;
	return cni_file_remove(path) < 0 ? -1 : 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cni_cache_list(const char *cache_dir, const char *net, struct cni_cache_entry **out, size_t *n,
		   struct cni_error *err)
{
	*out = NULL;
	*n = 0;
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s/results", dir_or_default(cache_dir)) < 0)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return cni_errorf_errno(err, CNI_ERR_IO, errno, "failed to read %s", dir);
	}
	char **names = NULL;
	size_t nn = 0, ncap = 0, cap = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/* "<entry>.tmp": a complete entry (cni_file_replace names it only
		 * once written) whose writer died before the rename. Listed when
		 * the entry itself is missing, so a GC DELs it (and the DEL
		 * removes both names); a partial one (no O_TMPFILE) fails to
		 * decode below and is skipped. */
		if (cni_file_is_tmp(de->d_name)) {
			char base[NAME_MAX + 1];
			snprintf(base, sizeof(base), "%.*s", (int)(strlen(de->d_name) - 4), de->d_name);
			if (faccessat(dirfd(d), base, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
				continue;
		}
		if (cni_grow((void **)&names, &ncap, nn, sizeof(char *)) < 0 || !(names[nn] = strdup(de->d_name))) {
			rc = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			break;
		}
		nn++;
	}
	closedir(d);
	if (nn)
		qsort(names, nn, sizeof(char *), name_cmp);
	for (size_t i = 0; i < nn && rc == 0; i++) {
		_cleanup_free_ char *path = NULL, *data = NULL;
		size_t len;
		if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
			rc = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			break;
		}
		if (read_small(path, &data, &len) < 0)
			continue;
		struct cni_cache_entry e;
		if (cni_cache_decode(data, len, &e, NULL) < 0)
			continue;
		if (!e.ifname || !*e.ifname || !e.net_name || !*e.net_name || (net && strcmp(net, e.net_name))) {
			cni_cache_entry_clear(&e);
			continue;
		}
		if (cni_grow((void **)out, &cap, *n, sizeof(**out)) < 0) {
			cni_cache_entry_clear(&e);
			rc = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			break;
		}
		(*out)[(*n)++] = e;
	}
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	if (rc < 0) {
		cni_cache_entries_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}
