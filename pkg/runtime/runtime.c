/* Running a network configuration list as libcni does: ADD in order with
 * prevResult chaining and the result cache, CHECK, DEL in reverse with the
 * cached result, STATUS, GC, VERSION. */
#include <stdio.h>
#include <string.h>

#include "cni/exec.h"
#include "cni/json.h"
#include "cni/result.h"
#include "cni/runtime.h"

/* libcni's pluginDescription: type="X" name="Y" (name only if the plugin
 * object has its own). */
static const char *plugin_desc(const struct cni_rt_plugin *p, char *buf, size_t len)
{
	if (p->name)
		snprintf(buf, len, "type=\"%s\" name=\"%s\"", p->type, p->name);
	else
		snprintf(buf, len, "type=\"%s\"", p->type);
	return buf;
}

static int plugin_failed(const struct cni_rt_plugin *p, const char *op, struct cni_error *err)
{
	char d[256];
	return cni_error_wrap(err, "plugin %s failed (%s)", plugin_desc(p, d, sizeof(d)), op);
}

/* Versions are compared as libcni does; a missing cniVersion means 0.1.0. */
static int version_cmp(const char *v, const char *than)
{
	return cni_version_cmp(v && *v ? v : "0.1.0", than);
}

/* The plugin object with `inject`'s keys set on top, serialised with
 * Go-sorted keys (prevResult keeps its own order). */
static char *serialize_conf(const json_t *conf, json_t *inject, struct cni_error *err)
{
	_cleanup_json_ json_t *o = json_copy((json_t *)conf);
	if (!o || json_object_update(o, inject) < 0) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	_cleanup_json_ json_t *sorted = cni_json_sorted_copy(o, "prevResult");
	char *s = sorted ? json_dumps(sorted, JSON_COMPACT) : NULL;
	if (!s)
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	return s;
}

char *cni_rt_build_stdin(const struct cni_netconf_list *l, const struct cni_rt_plugin *p, const json_t *prev,
			 const struct cni_rt_conf *rt, struct cni_error *err)
{
	_cleanup_json_ json_t *inject = json_pack("{s:s, s:s}", "name", l->name, "cniVersion", l->version);
	if (!inject) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	if (prev && json_object_set(inject, "prevResult", (json_t *)prev) < 0) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	/* runtimeConfig: the capabilities the plugin declares and the caller
	 * supplies; replaces any runtimeConfig of the conflist wholesale */
	json_t *caps = cj_get(p->conf, "capabilities");
	if (rt && rt->cap_args && json_is_object(caps)) {
		_cleanup_json_ json_t *rc = json_object();
		const char *k;
		json_t *v;
		json_object_foreach(caps, k, v) {
			json_t *val = json_is_true(v) ? json_object_get(rt->cap_args, k) : NULL;
			if (val && json_object_set(rc, k, val) < 0) {
				cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
				return NULL;
			}
		}
		if (json_object_size(rc) && json_object_set(inject, "runtimeConfig", rc) < 0) {
			cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			return NULL;
		}
	}
	return serialize_conf(p->conf, inject, err);
}

static char *args_string(const struct cni_rt_conf *rt)
{
	size_t len = 1;
	for (size_t i = 0; rt && i < rt->n_args; i++)
		len += strlen(rt->args[i].key) + strlen(rt->args[i].value) + 2;
	char *s = calloc(1, len);
	if (!s)
		return NULL;
	for (size_t i = 0; rt && i < rt->n_args; i++) {
		if (i)
			strcat(s, ";");
		strcat(s, rt->args[i].key);
		strcat(s, "=");
		strcat(s, rt->args[i].value);
	}
	return s;
}

/* Run one plugin with all six CNI_* variables set (empty when rt is NULL,
 * as for STATUS and GC), on top of our own environment. */
static int exec_plugin(const struct cni_runtime *r, const char *type, const char *cmd, const struct cni_rt_conf *rt,
		       const char *stdin_data, char **out, struct cni_error *err)
{
	_cleanup_free_ char *bin = cni_exec_find(type, r->path, err);
	if (!bin)
		return -1;
	_cleanup_free_ char *args = args_string(rt);
	_cleanup_free_ char *e_cmd = NULL, *e_cid = NULL, *e_ns = NULL, *e_args = NULL, *e_if = NULL, *e_path = NULL;
	if (!args || asprintf(&e_cmd, "CNI_COMMAND=%s", cmd) < 0 ||
	    asprintf(&e_cid, "CNI_CONTAINERID=%s", rt && rt->container_id ? rt->container_id : "") < 0 ||
	    asprintf(&e_ns, "CNI_NETNS=%s", rt && rt->netns ? rt->netns : "") < 0 ||
	    asprintf(&e_args, "CNI_ARGS=%s", args) < 0 ||
	    asprintf(&e_if, "CNI_IFNAME=%s", rt && rt->ifname ? rt->ifname : "") < 0 ||
	    asprintf(&e_path, "CNI_PATH=%s", r->path ? r->path : "") < 0)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	const char *env[] = { e_cmd, e_cid, e_ns, e_args, e_if, e_path, NULL };
	struct cni_exec_req req = {
		.binary = bin, .env_set = env, .stdin_data = stdin_data, .stdin_len = strlen(stdin_data),
	};
	_cleanup_free_ char *o = NULL;
	if (cni_exec_run(&req, &o, NULL, err) < 0)
		return -1;
	if (out)
		*out = TAKE_PTR(o);
	return 0;
}

/* A plugin's ADD output as libcni holds it: decoded in its own version
 * (the config's when it names none) and marshalled again. */
static json_t *decode_plugin_result(const char *out, const char *conf_version, struct cni_error *err)
{
	json_error_t je;
	_cleanup_json_ json_t *j = json_loads(out, 0, &je);
	if (!j || !json_is_object(j)) {
		cni_errorf(err, CNI_ERR_DECODE, "failed to decode plugin result: %s", j ? "not a JSON object" : je.text);
		return NULL;
	}
	json_t *v = json_object_get(j, "cniVersion");
	const char *ver = json_is_string(v) && *json_string_value(v) ? json_string_value(v)
								     : (conf_version && *conf_version ? conf_version : "0.1.0");
	_cleanup_result_ struct cni_result *res = cni_result_decode(j, ver, err);
	if (!res)
		return NULL;
	return cni_result_encode(res, ver, err);
}

static int validate_attachment(const struct cni_netconf_list *l, const struct cni_rt_conf *rt, struct cni_error *err)
{
	if (!rt->container_id || !*rt->container_id)
		return cni_errorf(err, CNI_ERR_UNKNOWN_CONTAINER, "missing containerID");
	if (cni_validate_container_id(rt->container_id, err) < 0 || cni_validate_net_name(l->name, err) < 0 ||
	    cni_validate_ifname(rt->ifname, err) < 0)
		return -1;
	return 0;
}

int cni_rt_add(const struct cni_runtime *r, const struct cni_netconf_list *l, const struct cni_rt_conf *rt,
	       json_t **result, struct cni_error *err)
{
	*result = NULL;
	_cleanup_json_ json_t *prev = NULL;
	for (size_t i = 0; i < l->n_plugins; i++) {
		const struct cni_rt_plugin *p = &l->plugins[i];
		_cleanup_free_ char *in = NULL, *out = NULL;
		if (validate_attachment(l, rt, err) < 0 || !(in = cni_rt_build_stdin(l, p, prev, rt, err)) ||
		    exec_plugin(r, p->type, "ADD", rt, in, &out, err) < 0)
			return plugin_failed(p, "add", err);
		json_t *res = decode_plugin_result(out, l->version, err);
		if (!res)
			return plugin_failed(p, "add", err);
		if (prev)
			json_decref(prev);
		prev = res;
	}
	if (!prev)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "network \"%s\" has no plugins", l->name);
	struct cni_cache_entry e = {
		.container_id = (char *)rt->container_id,
		.ifname = (char *)rt->ifname,
		.net_name = l->name,
		.netns = (char *)rt->netns,
		.config = l->bytes,
		.config_len = l->len,
		.args = (struct cni_arg *)rt->args,
		.n_args = rt->n_args,
		.cap_args = (json_t *)rt->cap_args,
		.result = prev,
	};
	if (cni_cache_write(r->cache_dir, &e, err) < 0)
		return cni_error_wrap(err, "failed to set network \"%s\" cached result", l->name);
	*result = TAKE_PTR(prev);
	return 0;
}

/* The cached result converted to the list's version; *out NULL when there
 * is no cache. */
static int cached_result(const struct cni_runtime *r, const struct cni_netconf_list *l, const struct cni_rt_conf *rt,
			 json_t **out, struct cni_error *err)
{
	*out = NULL;
	struct cni_cache_entry e;
	int rc = cni_cache_read(r->cache_dir, l->name, rt->container_id, rt->ifname, &e, err);
	if (rc <= 0)
		return rc;
	if (!e.result) {
		cni_cache_entry_clear(&e);
		return 0;
	}
	const char *ver = l->version && *l->version ? l->version : "0.1.0";
	struct cni_result *res = cni_result_decode(e.result, NULL, err);
	cni_cache_entry_clear(&e);
	if (!res)
		return -1;
	*out = cni_result_encode(res, ver, err);
	cni_result_free(res);
	if (!*out)
		return cni_error_wrap(err, "failed to convert cached result to config version \"%s\"", ver);
	return 0;
}

int cni_rt_check(const struct cni_runtime *r, const struct cni_netconf_list *l, const struct cni_rt_conf *rt,
		 struct cni_error *err)
{
	int c = version_cmp(l->version, "0.4.0");
	if (c == -2)
		return cni_errorf(err, CNI_ERR_INCOMPATIBLE_VERSION, "invalid configuration version \"%s\"", l->version);
	if (c < 0)
		return cni_errorf(err, CNI_ERR_INCOMPATIBLE_VERSION,
				  "configuration version \"%s\" does not support the CHECK command", l->version);
	if (l->disable_check)
		return 0;
	_cleanup_json_ json_t *prev = NULL;
	if (cached_result(r, l, rt, &prev, err) < 0)
		return cni_error_wrap(err, "failed to get network \"%s\" cached result", l->name);
	for (size_t i = 0; i < l->n_plugins; i++) {
		const struct cni_rt_plugin *p = &l->plugins[i];
		_cleanup_free_ char *in = cni_rt_build_stdin(l, p, prev, rt, err);
		if (!in || exec_plugin(r, p->type, "CHECK", rt, in, NULL, err) < 0)
			return plugin_failed(p, "check", err);
	}
	return 0;
}

int cni_rt_del(const struct cni_runtime *r, const struct cni_netconf_list *l, const struct cni_rt_conf *rt,
	       struct cni_error *err)
{
	int c = version_cmp(l->version, "0.4.0");
	if (c == -2)
		return cni_errorf(err, CNI_ERR_INCOMPATIBLE_VERSION, "invalid configuration version \"%s\"", l->version);
	_cleanup_json_ json_t *prev = NULL;
	if (c >= 0 && cached_result(r, l, rt, &prev, NULL) < 0) {
		/* a cache we cannot use must not block DEL forever */
		cni_cache_remove(r->cache_dir, l->name, rt->container_id, rt->ifname);
		prev = NULL;
	}
	for (size_t i = l->n_plugins; i-- > 0;) {
		const struct cni_rt_plugin *p = &l->plugins[i];
		_cleanup_free_ char *in = cni_rt_build_stdin(l, p, prev, rt, err);
		if (!in || exec_plugin(r, p->type, "DEL", rt, in, NULL, err) < 0)
			return plugin_failed(p, "delete", err);
	}
	cni_cache_remove(r->cache_dir, l->name, rt->container_id, rt->ifname);
	return 0;
}

int cni_rt_status(const struct cni_runtime *r, const struct cni_netconf_list *l, struct cni_error *err)
{
	if (version_cmp(l->version, "1.1.0") < 0)
		return 0;
	for (size_t i = 0; i < l->n_plugins; i++) {
		const struct cni_rt_plugin *p = &l->plugins[i];
		_cleanup_json_ json_t *inject = json_pack("{s:s, s:s}", "name", l->name, "cniVersion", l->version);
		_cleanup_free_ char *in = inject ? serialize_conf(p->conf, inject, err) : NULL;
		if (!inject)
			cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		if (!in || exec_plugin(r, p->type, "STATUS", NULL, in, NULL, err) < 0)
			return plugin_failed(p, "status", err);
	}
	return 0;
}

/* GC keeps going: every error is remembered, the first code wins, the
 * messages are joined. */
static void gc_note(struct cni_error *all, int *n, const struct cni_error *one)
{
	if (!(*n)++) {
		*all = *one;
		return;
	}
	size_t len = strlen(all->msg);
	snprintf(all->msg + len, sizeof(all->msg) - len, "\n%s", one->msg);
}

int cni_rt_gc(const struct cni_runtime *r, const struct cni_netconf_list *l, const struct cni_attachment *valid,
	      size_t n_valid, struct cni_error *err)
{
	if (l->disable_gc)
		return 0;
	struct cni_cache_entry *ents = NULL;
	size_t n = 0;
	int n_err = 0;
	struct cni_error one;
	cni_error_clear(&one);
	if (cni_cache_list(r->cache_dir, l->name, &ents, &n, &one) < 0)
		gc_note(err, &n_err, &one);
	for (size_t i = 0; i < n; i++) {
		if (valid && cni_attachment_valid(valid, n_valid, ents[i].container_id, ents[i].ifname))
			continue;
		struct cni_rt_conf rt = {
			.container_id = ents[i].container_id,
			.netns = ents[i].netns ? ents[i].netns : "",
			.ifname = ents[i].ifname,
			.args = ents[i].args,
			.n_args = ents[i].n_args,
			.cap_args = ents[i].cap_args,
		};
		cni_error_clear(&one);
		if (cni_rt_del(r, l, &rt, &one) < 0) {
			cni_error_wrap(&one, "failed to delete stale attachment %s %s", rt.container_id, rt.ifname);
			gc_note(err, &n_err, &one);
		}
	}
	cni_cache_entries_free(ents, n);

	if (version_cmp(l->version, "1.1.0") >= 0) {
		_cleanup_json_ json_t *inject = json_pack("{s:s, s:s}", "name", l->name, "cniVersion", l->version);
		if (inject && valid) {
			json_t *a = json_array();
			for (size_t i = 0; a && i < n_valid; i++)
				json_array_append_new(a, json_pack("{s:s, s:s}", "containerID", valid[i].container_id,
								   "ifname", valid[i].ifname));
			/* the spec's key and the one the 1.1.0 tag named */
			json_object_set(inject, "cni.dev/valid-attachments", a);
			json_object_set_new(inject, "cni.dev/attachments", a);
		}
		for (size_t i = 0; inject && i < l->n_plugins; i++) {
			const struct cni_rt_plugin *p = &l->plugins[i];
			cni_error_clear(&one);
			_cleanup_free_ char *in = serialize_conf(p->conf, inject, &one);
			if (!in || exec_plugin(r, p->type, "GC", NULL, in, NULL, &one) < 0) {
				cni_error_wrap(&one, "failed to GC plugin %s", p->type);
				gc_note(err, &n_err, &one);
			}
		}
		if (!inject) {
			cni_errorf(&one, CNI_ERR_INTERNAL, "out of memory");
			gc_note(err, &n_err, &one);
		}
	}
	return n_err ? -1 : 0;
}

int cni_rt_version(const struct cni_runtime *r, const struct cni_netconf_list *l, json_t **out, struct cni_error *err)
{
	*out = NULL;
	_cleanup_json_ json_t *a = json_array();
	if (!a)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < l->n_plugins; i++) {
		const struct cni_rt_plugin *p = &l->plugins[i];
		_cleanup_free_ char *o = NULL;
		if (exec_plugin(r, p->type, "VERSION", NULL, "{\"cniVersion\":\"" CNI_RT_VERSION "\"}", &o, err) < 0)
			return plugin_failed(p, "version", err);
		json_error_t je;
		json_t *v = json_loads(o, 0, &je);
		if (!v) {
			cni_errorf(err, CNI_ERR_DECODE, "failed to decode version info: %s", je.text);
			return plugin_failed(p, "version", err);
		}
		json_array_append_new(a, json_pack("{s:s, s:o}", "type", p->type, "version", v));
	}
	*out = TAKE_PTR(a);
	return 0;
}
