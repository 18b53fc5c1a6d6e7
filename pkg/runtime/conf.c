/* Loading network configuration lists the way libcni does (conf.go). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cni/json.h"
#include "cni/result.h"
#include "cni/runtime.h"

/* Configuration files are small; refuse anything absurd. */
#define CONF_FILE_MAX (4u << 20)

void cni_netconf_list_free(struct cni_netconf_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_plugins; i++)
		json_decref(l->plugins[i].conf);
	free(l->plugins);
	free(l->name);
	free(l->version);
	free(l->bytes);
	free(l);
}

/* One plugin object (libcni ConfFromBytes): must decode as a NetConf and
 * have a non-empty `type`. */
static int plugin_from_json(json_t *obj, struct cni_rt_plugin *p, struct cni_error *err)
{
	if (!json_is_object(obj))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "error parsing configuration: not a JSON object");
	json_t *t = cj_get(obj, "type");
	if (t && !json_is_string(t))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "error parsing configuration: invalid 'type'");
	if (!t || !*json_string_value(t))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "error parsing configuration: missing 'type'");
	json_t *caps = cj_get(obj, "capabilities");
	if (caps) {
		const char *k;
		json_t *v;
		if (!json_is_object(caps))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
					  "error parsing configuration: 'capabilities' must be an object");
		json_object_foreach(caps, k, v) {
			if (!json_is_boolean(v))
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
						  "error parsing configuration: capability \"%s\" must be a boolean", k);
		}
	}
	json_t *n = cj_get(obj, "name");
	p->conf = json_incref(obj);
	p->type = json_string_value(t);
	p->name = n && json_is_string(n) && *json_string_value(n) ? json_string_value(n) : NULL;
	return 0;
}

static int append_plugin(struct cni_netconf_list *l, json_t *obj, size_t *cap, struct cni_error *err)
{
	if (cni_grow((void **)&l->plugins, cap, l->n_plugins, sizeof(*l->plugins)) < 0)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	if (plugin_from_json(obj, &l->plugins[l->n_plugins], err) < 0)
		return -1;
	l->n_plugins++;
	return 0;
}

/* disableCheck & co: a JSON bool or the strings "true"/"false" in any case. */
static int read_bool(const json_t *o, const char *key, bool *out, struct cni_error *err)
{
	json_t *v = json_object_get(o, key);
	*out = false;
	if (!v)
		return 0;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (!json_is_string(v))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "error parsing configuration list: invalid type for %s",
				  key);
	const char *s = json_string_value(v);
	if (!strcasecmp(s, "true"))
		*out = true;
	else if (strcasecmp(s, "false"))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				  "error parsing configuration list: invalid value \"%s\" for %s", s, key);
	return 0;
}

/* Highest of cniVersions U {cniVersion}, dropping versions newer than ours;
 * a non-version entry is an error. Without cniVersions, cniVersion as is. */
static int select_version(const json_t *o, const char *cni_version, char **out, struct cni_error *err)
{
	json_t *vs = json_object_get(o, "cniVersions");
	const char *best = cni_version;
	if (vs && !json_is_null(vs)) {
		if (!json_is_array(vs))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
					  "error parsing configuration list: invalid type for cniVersions");
		const char *top = NULL;
		size_t i;
		json_t *v;
		json_array_foreach(vs, i, v) {
			if (!json_is_string(v))
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
						  "error parsing configuration list: invalid type for cniVersions index %zu",
						  i);
			const char *s = json_string_value(v);
			int c = cni_version_cmp(s, CNI_RT_VERSION);
			if (c == -2)
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
						  "error parsing configuration list: invalid cniVersions entry %s at index %zu",
						  s, i);
			if (c <= 0 && (!top || cni_version_cmp(s, top) > 0))
				top = s;
		}
		if (cni_version && *cni_version) {
			int c = cni_version_cmp(cni_version, CNI_RT_VERSION);
			if (c == -2)
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
						  "error parsing configuration list: invalid cniVersion %s", cni_version);
			if (c <= 0 && (!top || cni_version_cmp(cni_version, top) > 0))
				top = cni_version;
		}
		if (top)
			best = top;
	}
	*out = strdup(best ? best : "");
	return *out ? 0 : cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
}

int cni_netconf_list_parse(const char *data, size_t len, struct cni_netconf_list **out, struct cni_error *err)
{
	*out = NULL;
	json_error_t je;
	_cleanup_json_ json_t *o = json_loadb(data, len, 0, &je);
	if (!o)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "error parsing configuration list: %s", je.text);
	json_t *name = json_object_get(o, "name");
	if (!name)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "error parsing configuration list: no name");
	if (!json_is_string(name))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "error parsing configuration list: invalid name type");
	json_t *ver = json_object_get(o, "cniVersion");
	if (ver && !json_is_string(ver))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				  "error parsing configuration list: invalid cniVersion type");

	struct cni_netconf_list *l = cni_xcalloc(1, sizeof(*l));
	if (!l)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	l->name = strdup(json_string_value(name));
	l->bytes = malloc(len + 1);
	if (!l->name || !l->bytes) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	memcpy(l->bytes, data, len);
	l->bytes[len] = '\0';
	l->len = len;
	if (select_version(o, ver ? json_string_value(ver) : NULL, &l->version, err) < 0 ||
	    read_bool(o, "disableCheck", &l->disable_check, err) < 0 ||
	    read_bool(o, "disableGC", &l->disable_gc, err) < 0 ||
	    read_bool(o, "loadOnlyInlinedPlugins", &l->load_only_inlined, err) < 0)
		goto fail;

	json_t *plugins = json_object_get(o, "plugins");
	if (!plugins) {
		if (l->load_only_inlined) {
			cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				   "error parsing configuration list: `loadOnlyInlinedPlugins` is true, and no 'plugins' key");
			goto fail;
		}
		*out = l;
		return 0;
	}
	if (!json_is_array(plugins)) {
		cni_errorf(err, CNI_ERR_INVALID_CONFIG, "error parsing configuration list: invalid 'plugins' type");
		goto fail;
	}
	if (!json_array_size(plugins)) {
		cni_errorf(err, CNI_ERR_INVALID_CONFIG, "error parsing configuration list: no plugins in list");
		goto fail;
	}
	size_t cap = 0, i;
	json_t *p;
	json_array_foreach(plugins, i, p) {
		if (append_plugin(l, p, &cap, err) < 0) {
			cni_error_wrap(err, "failed to parse plugin config %zu", i);
			goto fail;
		}
	}
	*out = l;
	return 0;
fail:
	cni_netconf_list_free(l);
	return -1;
}

static int read_file(const char *path, char **data, size_t *len, struct cni_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return cni_errorf_errno(err, CNI_ERR_IO, errno, "error reading %s", path);
	if (st.st_size > CONF_FILE_MAX)
		return cni_errorf(err, CNI_ERR_IO, "error reading %s: larger than %u bytes", path, CONF_FILE_MAX);
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	size_t off = 0;
	for (;;) {
		if (off >= (size_t)st.st_size)
			break;
		ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return cni_errorf_errno(err, CNI_ERR_IO, errno, "error reading %s", path);
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

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_ext(const char *name, const char *ext)
{
	/* filepath.Ext: from the last '.' */
	const char *dot = strrchr(name, '.');
	return dot && !strcmp(dot, ext);
}

/* Sorted regular files (not directories) of dir with one of the extensions.
 * A missing directory is an empty list. */
static int conf_files(const char *dir, const char *const *exts, char ***out, size_t *n, struct cni_error *err)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return cni_errorf_errno(err, CNI_ERR_IO, errno, "failed to read %s", dir);
	}
	size_t cap = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		bool match = false;
		for (const char *const *e = exts; *e && !match; e++)
			match = has_ext(de->d_name, *e);
		if (!match)
			continue;
		char *path = NULL;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			rc = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			break;
		}
		struct stat st;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			free(path);
			continue;
		}
		if (cni_grow((void **)out, &cap, *n, sizeof(char *)) < 0) {
			free(path);
			rc = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			break;
		}
		(*out)[(*n)++] = path;
	}
	closedir(d);
	if (rc == 0 && *n)
		qsort(*out, *n, sizeof(char *), str_cmp);
	return rc;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int cni_netconf_list_from_conf(const char *data, size_t len, struct cni_netconf_list **out, struct cni_error *err)
{
	*out = NULL;
	json_error_t je;
	_cleanup_json_ json_t *o = json_loadb(data, len, 0, &je);
	if (!o)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "error parsing configuration: %s", je.text);
	struct cni_rt_plugin p;
	if (plugin_from_json(o, &p, err) < 0)
		return -1;
	json_decref(p.conf);
	json_t *name = cj_get(o, "name"), *ver = cj_get(o, "cniVersion");
	if ((name && !json_is_string(name)) || (ver && !json_is_string(ver)))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "error parsing configuration: invalid name or cniVersion");
	/* {"cniVersion","name","plugins":[<conf>]} marshalled like Go's map */
	_cleanup_json_ json_t *list = json_pack("{s:s, s:s, s:[O]}", "cniVersion", ver ? json_string_value(ver) : "",
						"name", name ? json_string_value(name) : "", "plugins", o);
	_cleanup_json_ json_t *sorted = list ? cni_json_sorted_copy(list, NULL) : NULL;
	_cleanup_free_ char *bytes = sorted ? json_dumps(sorted, JSON_COMPACT) : NULL;
	if (!bytes)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	return cni_netconf_list_parse(bytes, strlen(bytes), out, err);
}

/* A file's bytes and their JSON; 0, or -1 naming the file. */
static int read_json_file(const char *path, char **data, size_t *len, json_t **o, struct cni_error *err)
{
	if (read_file(path, data, len, err) < 0)
		return -1;
	json_error_t je;
	*o = json_loadb(*data, *len, 0, &je);
	if (!*o)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "error parsing configuration %s: %s", path, je.text);
	return 0;
}

/* <dir>/<name>/<x>.conf plugin objects appended to the list. */
static int load_dir_plugins(const char *dir, struct cni_netconf_list *l, struct cni_error *err)
{
	_cleanup_free_ char *pdir = NULL;
	if (asprintf(&pdir, "%s/%s", dir, l->name) < 0)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	char **files = NULL;
	size_t n = 0, cap = l->n_plugins;
	static const char *const exts[] = { ".conf", NULL };
	if (conf_files(pdir, exts, &files, &n, err) < 0)
		return cni_error_wrap(err, "failed to read plugin config files in %s", pdir);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		_cleanup_free_ char *data = NULL;
		size_t len;
		_cleanup_json_ json_t *o = NULL;
		if ((rc = read_json_file(files[i], &data, &len, &o, err)) < 0)
			break;
		rc = append_plugin(l, o, &cap, err);
	}
	strv_free(files, n);
	return rc;
}

int cni_netconf_list_load(const char *dir, const char *name, struct cni_netconf_list **out, struct cni_error *err)
{
	*out = NULL;
	static const char *const list_exts[] = { ".conflist", NULL };
	static const char *const conf_exts[] = { ".conf", ".json", NULL };
	char **files = NULL;
	size_t n = 0;
	if (conf_files(dir, list_exts, &files, &n, err) < 0)
		return -1;
	int rc = 1; /* 1 = not found yet */
	for (size_t i = 0; i < n && rc == 1; i++) {
		_cleanup_free_ char *data = NULL;
		size_t len;
		struct cni_netconf_list *l = NULL;
		if (read_file(files[i], &data, &len, err) < 0 || cni_netconf_list_parse(data, len, &l, err) < 0) {
			if (!strstr(err->msg, files[i]))
				cni_error_wrap(err, "%s", files[i]);
			rc = -1;
			break;
		}
		if (strcmp(l->name, name)) {
			cni_netconf_list_free(l);
			continue;
		}
		if (!l->load_only_inlined && load_dir_plugins(dir, l, err) < 0) {
			cni_netconf_list_free(l);
			rc = -1;
			break;
		}
		if (!l->n_plugins) {
			cni_netconf_list_free(l);
			rc = cni_errorf(err, CNI_ERR_INVALID_CONFIG, "%s: no plugin configs found", files[i]);
			break;
		}
		*out = l;
		rc = 0;
	}
	size_t n_lists = n;
	strv_free(files, n);
	if (rc != 1)
		return rc;

	/* legacy single-plugin files, up-converted */
	if (conf_files(dir, conf_exts, &files, &n, err) < 0)
		return -1;
	if (!n && !n_lists)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "no net configurations found in %s", dir);
	for (size_t i = 0; i < n && rc == 1; i++) {
		_cleanup_free_ char *data = NULL;
		size_t len;
		_cleanup_json_ json_t *o = NULL;
		if (read_json_file(files[i], &data, &len, &o, err) < 0) {
			rc = -1;
			break;
		}
		json_t *nm = cj_get(o, "name");
		if (!nm || !json_is_string(nm) || strcmp(json_string_value(nm), name))
			continue;
		if (cni_netconf_list_from_conf(data, len, out, err) < 0) {
			cni_error_wrap(err, "%s", files[i]);
			rc = -1;
			break;
		}
		rc = 0;
	}
	strv_free(files, n);
	if (rc == 1)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "no net configuration with name \"%s\" in %s", name, dir);
	return rc;
}
