/* The plugin frame: what every plugin does before and after its own work. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "cni/json.h"
#include "cni/plugin.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

#define SUITE_VERSION "0.1.0"

static const struct {
	const char *name;
	enum cni_command cmd;
} commands[] = {
	{ "ADD", CNI_CMD_ADD },       { "DEL", CNI_CMD_DEL },       { "CHECK", CNI_CMD_CHECK },
	{ "VERSION", CNI_CMD_VERSION }, { "STATUS", CNI_CMD_STATUS }, { "GC", CNI_CMD_GC },
};

const char *cni_command_name(enum cni_command c)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i].cmd == c)
			return commands[i].name;
	return "NONE";
}

static const char *const *plugin_versions(const struct cni_plugin *p)
{
	return p->versions ? p->versions : cni_all_versions;
}

static bool supports(const struct cni_plugin *p, const char *v)
{
	for (const char *const *s = plugin_versions(p); *s; s++)
		if (!strcmp(*s, v))
			return true;
	return false;
}

static void versions_list(const struct cni_plugin *p, char *buf, size_t len, bool quoted)
{
	size_t off = 0;
	buf[0] = '\0';
	for (const char *const *s = plugin_versions(p); *s && off < len; s++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s%s%s", s == plugin_versions(p) ? "" : ", ",
					quoted ? "\"" : "", *s, quoted ? "\"" : "");
}

static void write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += n;
		len -= (size_t)n;
	}
}

void cni_print_error(int fd, const struct cni_error *e, const char *version)
{
	json_t *o = json_object();
	if (!o)
		return;
	json_object_set_new(o, "cniVersion", json_string(version && cni_version_known(version) ? version : "1.1.0"));
	json_object_set_new(o, "code", json_integer(e->code ? e->code : CNI_ERR_INTERNAL));
	json_object_set_new(o, "msg", json_string(e->msg));
	if (e->details[0])
		json_object_set_new(o, "details", json_string(e->details));
	char *s = json_dumps(o, JSON_INDENT(4));
	json_decref(o);
	if (s) {
		write_all(fd, s, strlen(s));
		write_all(fd, "\n", 1);
		free(s);
	}
}

/* Read all of stdin, refusing more than CNI_STDIN_MAX bytes. */
static int read_stdin(char **out, size_t *len, struct cni_error *err)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return cni_errorf(err, CNI_ERR_IO, "out of memory reading stdin");
	for (;;) {
		if (n == cap) {
			if (cap > CNI_STDIN_MAX) {
				free(buf);
				return cni_errorf(err, CNI_ERR_IO, "error reading from stdin: input larger than %u bytes",
						  CNI_STDIN_MAX);
			}
			cap *= 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return cni_errorf(err, CNI_ERR_IO, "out of memory reading stdin");
			}
			buf = nb;
		}
		ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EBADF) /* no stdin at all: treat as empty */
				break;
			int e = errno;
			free(buf);
			return cni_errorf_errno(err, CNI_ERR_IO, e, "error reading from stdin");
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > CNI_STDIN_MAX) {
			free(buf);
			return cni_errorf(err, CNI_ERR_IO, "error reading from stdin: input larger than %u bytes",
					  CNI_STDIN_MAX);
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int print_version(const struct cni_plugin *p, const char *in_version)
{
	json_t *o = json_object();
	const char *v = in_version && cni_version_valid(in_version) ? in_version : "1.1.0";
	json_object_set_new(o, "cniVersion", json_string(v));
	json_t *a = json_array();
	for (const char *const *s = plugin_versions(p); *s; s++)
		json_array_append_new(a, json_string(*s));
	json_object_set_new(o, "supportedVersions", a);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return 1;
	write_all(STDOUT_FILENO, s, strlen(s));
	write_all(STDOUT_FILENO, "\n", 1);
	free(s);
	return 0;
}

/* CNI_NETNS must be a namespace file (nsfs, or a /proc/<pid>/ns/net link
 * target) and not our own namespace. Sets *gone when the path does not
 * exist (allowed for DEL). */
static int check_netns(const char *path, bool *gone, struct cni_error *err)
{
	*gone = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*gone = true;
			return 0;
		}
		return cni_errorf_errno(err, CNI_ERR_INVALID_ENV, errno, "CNI_NETNS \"%s\": cannot open", path);
	}
	struct statfs sfs;
	struct stat st, self;
	int r = 0;
	if (fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0) {
		r = cni_errorf_errno(err, CNI_ERR_INVALID_ENV, errno, "CNI_NETNS \"%s\": cannot stat", path);
	} else if ((unsigned long)sfs.f_type != NSFS_MAGIC && (unsigned long)sfs.f_type != PROC_SUPER_MAGIC) {
		r = cni_errorf(err, CNI_ERR_INVALID_ENV, "CNI_NETNS \"%s\" is not a network namespace (fs magic 0x%lx)",
			       path, (unsigned long)sfs.f_type);
	} else if (stat("/proc/self/ns/net", &self) == 0 && self.st_dev == st.st_dev && self.st_ino == st.st_ino) {
		const char *ov = getenv("CNI_NETNS_OVERRIDE");
		if (!ov || (strcmp(ov, "1") && strcasecmp(ov, "true")))
			r = cni_errorf(err, CNI_ERR_INVALID_ENV,
				       "CNI_NETNS \"%s\" is the plugin's own network namespace", path);
	}
	close(fd);
	return r;
}

static const char *env(const char *k)
{
	const char *v = getenv(k);
	return v ? v : "";
}

static int parse_ignore_unknown(const char *v, bool *out, struct cni_error *err)
{
	if (!strcmp(v, "1") || !strcasecmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "0") || !strcasecmp(v, "false"))
		*out = false;
	else
		return cni_errorf(err, CNI_ERR_INVALID_ENV, "CNI_ARGS: IgnoreUnknown=\"%s\" is not a boolean", v);
	return 0;
}

static int validate_args(const struct cni_plugin *p, struct cni_call *c)
{
	if (cni_args_parse(c->args_env, &c->args, &c->n_args, &c->err) < 0)
		return -1;
	for (size_t i = 0; i < c->n_args; i++)
		if (!strcmp(c->args[i].key, "IgnoreUnknown") &&
		    parse_ignore_unknown(c->args[i].value, &c->args_ignore_unknown, &c->err) < 0)
			return -1;
	if (!p->args_keys || c->args_ignore_unknown)
		return 0;
	char unknown[256] = "";
	size_t off = 0;
	for (size_t i = 0; i < c->n_args; i++) {
		bool known = !strcmp(c->args[i].key, "IgnoreUnknown");
		for (const char *const *k = p->args_keys; *k && !known; k++)
			known = !strcmp(*k, c->args[i].key);
		if (!known && off < sizeof(unknown))
			off += (size_t)snprintf(unknown + off, sizeof(unknown) - off, "%s%s", off ? " " : "",
						c->args[i].key);
	}
	if (off)
		return cni_errorf(&c->err, CNI_ERR_INVALID_ENV,
				  "CNI_ARGS: unknown args [%s] (set IgnoreUnknown=1 to ignore them)", unknown);
	return 0;
}

const char *cni_call_arg(const struct cni_call *c, const char *key)
{
	for (size_t i = 0; i < c->n_args; i++)
		if (!strcmp(c->args[i].key, key))
			return c->args[i].value;
	return NULL;
}

json_t *cni_call_runtime_config(const struct cni_call *c, const char *key)
{
	return cj_get(cj_get(c->conf, "runtimeConfig"), key);
}

json_t *cni_call_args_cni(const struct cni_call *c, const char *key)
{
	return cj_get(cj_get(cj_get(c->conf, "args"), "cni"), key);
}

bool cni_conf_has_capability(const json_t *conf, const char *cap)
{
	json_t *v = cj_get(cj_get(conf, "capabilities"), cap);
	return v && json_is_true(v);
}

static int required_env(enum cni_command cmd, struct cni_error *err)
{
	char missing[128] = "";
	size_t off = 0;
	struct {
		const char *name;
		bool need;
	} vars[] = {
		{ "CNI_CONTAINERID", cmd == CNI_CMD_ADD || cmd == CNI_CMD_DEL || cmd == CNI_CMD_CHECK },
		{ "CNI_NETNS", cmd == CNI_CMD_ADD || cmd == CNI_CMD_CHECK },
		{ "CNI_IFNAME", cmd == CNI_CMD_ADD || cmd == CNI_CMD_DEL || cmd == CNI_CMD_CHECK },
		{ "CNI_PATH", cmd == CNI_CMD_GC },
	};
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
		if (vars[i].need && !*env(vars[i].name))
			off += (size_t)snprintf(missing + off, sizeof(missing) - off, "%s%s", off ? " " : "",
						vars[i].name);
	if (off)
		return cni_errorf(err, CNI_ERR_INVALID_ENV, "required env variables [%s] missing", missing);
	return 0;
}

static int prepare(const struct cni_plugin *p, struct cni_call *c)
{
	if (required_env(c->cmd, &c->err) < 0)
		return -1;
	if (c->cmd == CNI_CMD_ADD || c->cmd == CNI_CMD_DEL || c->cmd == CNI_CMD_CHECK) {
		if (cni_validate_container_id(c->container_id, &c->err) < 0 ||
		    cni_validate_ifname(c->ifname, &c->err) < 0)
			return -1;
	}
	if (read_stdin(&c->stdin_data, &c->stdin_len, &c->err) < 0)
		return -1;
	json_error_t jerr;
	c->conf = json_loadb(c->stdin_data, c->stdin_len, JSON_REJECT_DUPLICATES * 0, &jerr);
	if (!c->conf)
		return cni_errorf(&c->err, CNI_ERR_DECODE, "error unmarshall network config: %s (line %d, column %d)",
				  jerr.text, jerr.line, jerr.column);
	if (!json_is_object(c->conf))
		return cni_errorf(&c->err, CNI_ERR_DECODE, "error unmarshall network config: not a JSON object");
	json_t *v = cj_get(c->conf, "cniVersion");
	if (v && !json_is_string(v))
		return cni_errorf(&c->err, CNI_ERR_DECODE, "error unmarshall network config: \"cniVersion\" must be a string");
	c->version = v && *json_string_value(v) ? json_string_value(v) : "0.1.0";
	json_t *name = cj_get(c->conf, "name");
	if (name && !json_is_string(name))
		return cni_errorf(&c->err, CNI_ERR_INVALID_CONFIG, "invalid network name: \"name\" must be a string");
	c->net_name = name ? json_string_value(name) : NULL;
	if (cni_validate_net_name(c->net_name, &c->err) < 0)
		return -1;
	if (!supports(p, c->version)) {
		char list[256];
		versions_list(p, list, sizeof(list), true);
		cni_errorf(&c->err, CNI_ERR_INCOMPATIBLE_VERSION, "incompatible CNI versions");
		cni_error_set_details(&c->err, "config is \"%s\", plugin supports [%s]", c->version, list);
		return -1;
	}
	if (c->cmd == CNI_CMD_CHECK && cni_version_cmp(c->version, "0.4.0") < 0)
		return cni_errorf(&c->err, CNI_ERR_INCOMPATIBLE_VERSION, "config version \"%s\" does not allow CHECK",
				  c->version);
	if ((c->cmd == CNI_CMD_STATUS || c->cmd == CNI_CMD_GC) && cni_version_cmp(c->version, "1.1.0") < 0)
		return cni_errorf(&c->err, CNI_ERR_INCOMPATIBLE_VERSION, "config version \"%s\" does not allow %s",
				  c->version, cni_command_name(c->cmd));
	if (c->cmd == CNI_CMD_ADD || c->cmd == CNI_CMD_DEL || c->cmd == CNI_CMD_CHECK) {
		if (validate_args(p, c) < 0)
			return -1;
		if (*c->netns && check_netns(c->netns, &c->netns_gone, &c->err) < 0)
			return -1;
		if (c->netns_gone && c->cmd != CNI_CMD_DEL)
			return cni_errorf(&c->err, CNI_ERR_INVALID_ENV, "CNI_NETNS \"%s\" does not exist", c->netns);
	}
	json_t *prev = cj_get(c->conf, "prevResult");
	if (prev) {
		c->prev = cni_result_decode(prev, c->version, &c->err);
		if (!c->prev)
			return cni_error_wrap(&c->err, "could not parse prevResult");
	}
	return 0;
}

static int emit_result(struct cni_call *c)
{
	json_t *out = NULL;
	if (c->raw_output) {
		out = json_incref(c->raw_output);
	} else if (c->result) {
		if (cni_result_check_version_capacity(c->result, c->version, &c->err) < 0)
			return -1;
		out = cni_result_encode(c->result, c->version, &c->err);
		if (!out)
			return -1;
	} else {
		return 0;
	}
	char *s = json_dumps(out, JSON_INDENT(4));
	json_decref(out);
	if (!s)
		return cni_errorf(&c->err, CNI_ERR_IO, "failed to encode result");
	write_all(STDOUT_FILENO, s, strlen(s));
	free(s);
	return 0;
}

static void call_free(struct cni_call *c)
{
	free(c->stdin_data);
	if (c->conf)
		json_decref(c->conf);
	cni_args_free(c->args, c->n_args);
	cni_result_free(c->prev);
	cni_result_free(c->result);
	if (c->raw_output)
		json_decref(c->raw_output);
}

int cni_plugin_main(const struct cni_plugin *p, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct cni_call c = { 0 };
	const char *cmd = getenv("CNI_COMMAND");
	if (!cmd || !*cmd) {
		char list[256];
		versions_list(p, list, sizeof(list), false);
		dprintf(STDERR_FILENO, "CNI %s plugin %s%s%s\nCNI protocol versions supported: %s\n", p->name,
			SUITE_VERSION, p->about ? "\n" : "", p->about ? p->about : "", list);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(cmd, commands[i].name))
			c.cmd = commands[i].cmd;
	int rc = 0;
	if (c.cmd == CNI_CMD_NONE) {
		cni_errorf(&c.err, CNI_ERR_INVALID_ENV, "unknown CNI_COMMAND: %s", cmd);
		goto fail;
	}
	c.container_id = env("CNI_CONTAINERID");
	c.netns = env("CNI_NETNS");
	c.ifname = env("CNI_IFNAME");
	c.args_env = env("CNI_ARGS");
	c.path = env("CNI_PATH");

	if (c.cmd == CNI_CMD_VERSION) {
		const char *v = NULL;
		if (read_stdin(&c.stdin_data, &c.stdin_len, &c.err) < 0)
			goto fail;
		c.conf = json_loadb(c.stdin_data, c.stdin_len, 0, NULL);
		json_t *vj = cj_get(c.conf, "cniVersion");
		if (vj && json_is_string(vj))
			v = json_string_value(vj);
		rc = print_version(p, v);
		call_free(&c);
		return rc;
	}
	if (prepare(p, &c) < 0)
		goto fail;
	cni_cmd_fn fn = NULL;
	switch (c.cmd) {
	case CNI_CMD_ADD: fn = p->add; break;
	case CNI_CMD_DEL: fn = p->del; break;
	case CNI_CMD_CHECK: fn = p->check; break;
	case CNI_CMD_STATUS: fn = p->status; break;
	case CNI_CMD_GC: fn = p->gc; break;
	default: break;
	}
	if (!fn) {
		if (c.cmd == CNI_CMD_STATUS || c.cmd == CNI_CMD_GC)
			goto out; /* nothing to do: ready / nothing to collect */
		cni_errorf(&c.err, CNI_ERR_INTERNAL, "%s is not implemented by the %s plugin", cmd, p->name);
		goto fail;
	}
	if (fn(&c) < 0)
		goto fail;
	if (c.cmd == CNI_CMD_ADD && emit_result(&c) < 0)
		goto fail;
out:
	call_free(&c);
	return 0;
fail:
	if (!c.err.code)
		c.err.code = CNI_ERR_INTERNAL;
	cni_print_error(STDOUT_FILENO, &c.err, c.version);
	call_free(&c);
	return 1;
}
