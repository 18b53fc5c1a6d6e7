/* cnitool: run a network configuration list against a network namespace,
 * CLI-compatible with upstream cnitool (containernetworking/cni/cnitool).
 *
 *   cnitool {add|check|del} <net> <netns> [-i ifname]
 *   cnitool {gc|status} <net> [<netns>]
 *   cnitool version <net>
 *
 * Environment: NETCONFPATH (default /etc/cni/net.d), CNI_PATH, CNI_IFNAME
 * (default eth0; -i wins), CNI_ARGS ("K=V;..."), CAP_ARGS (JSON object of
 * capability args). Extensions: CNI_CACHE_DIR (default /var/lib/cni; the
 * result cache lives in <dir>/results), CNI_VALID_ATTACHMENTS (gc: JSON
 * list of {"containerID","ifname"} to keep; without it every cached
 * attachment of the network is deleted, as upstream does). */
#include <stdio.h>
#include <string.h>

#include "cni/json.h"
#include "cni/runtime.h"

static void usage(FILE *f)
{
	fprintf(f, "cnitool: add, check, remove, gc or status network interfaces from a network namespace\n"
		   "  cnitool add     <net> <netns> [-i ifname]\n"
		   "  cnitool check   <net> <netns> [-i ifname]\n"
		   "  cnitool del     <net> <netns> [-i ifname]\n"
		   "  cnitool gc      <net> [<netns>]\n"
		   "  cnitool status  <net> [<netns>]\n"
		   "  cnitool version <net>\n"
		   "environment: NETCONFPATH CNI_PATH CNI_IFNAME CNI_ARGS CAP_ARGS CNI_CACHE_DIR CNI_VALID_ATTACHMENTS\n");
}

static int fail(const struct cni_error *e)
{
	if (e->details[0])
		fprintf(stderr, "%s; %s\n", e->msg, e->details);
	else
		fprintf(stderr, "%s\n", e->msg);
	return 1;
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

/* CNI_VALID_ATTACHMENTS='[{"containerID":"c1","ifname":"eth0"}]' */
static int parse_valid(const char *s, struct cni_attachment **out, size_t *n, struct cni_error *err)
{
	json_error_t je;
	_cleanup_json_ json_t *j = json_loads(s, 0, &je);
	if (!j)
		return cni_errorf(err, CNI_ERR_DECODE, "invalid CNI_VALID_ATTACHMENTS: %s", je.text);
	_cleanup_json_ json_t *wrap = json_pack("{s:O}", "cni.dev/valid-attachments", j);
	bool present;
	if (!wrap)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	if (cni_gc_valid_attachments(wrap, out, n, &present, err) < 0)
		return cni_error_wrap(err, "invalid CNI_VALID_ATTACHMENTS");
	return 0;
}

int main(int argc, char **argv)
{
	const char *pos[3] = { NULL, NULL, NULL };
	const char *ifname = env_or("CNI_IFNAME", "eth0");
	int npos = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "-i")) {
			if (++i >= argc) {
				usage(stderr);
				return 1;
			}
			ifname = argv[i];
		} else if (npos < 3) {
			pos[npos++] = argv[i];
		} else {
			usage(stderr);
			return 1;
		}
	}
	const char *cmd = pos[0], *net = pos[1], *netns_arg = pos[2];
	bool needs_netns = cmd && (!strcmp(cmd, "add") || !strcmp(cmd, "check") || !strcmp(cmd, "del"));
	bool known = needs_netns ||
		     (cmd && (!strcmp(cmd, "gc") || !strcmp(cmd, "status") || !strcmp(cmd, "version")));
	if (!known || !net || (needs_netns && !netns_arg)) {
		usage(stderr);
		return 1;
	}

	struct cni_error err;
	cni_error_clear(&err);
	_cleanup_netconf_list_ struct cni_netconf_list *list = NULL;
	if (cni_netconf_list_load(env_or("NETCONFPATH", "/etc/cni/net.d"), net, &list, &err) < 0)
		return fail(&err);

	struct cni_runtime rt = {
		.path = getenv("CNI_PATH") ? getenv("CNI_PATH") : "",
		.cache_dir = env_or("CNI_CACHE_DIR", CNI_RT_CACHE_DIR),
	};

	if (!strcmp(cmd, "version")) {
		_cleanup_json_ json_t *v = NULL;
		if (cni_rt_version(&rt, list, &v, &err) < 0)
			return fail(&err);
		_cleanup_free_ char *s = json_dumps(v, JSON_INDENT(4));
		printf("%s\n", s ? s : "[]");
		return 0;
	}
	if (!strcmp(cmd, "status"))
		return cni_rt_status(&rt, list, &err) < 0 ? fail(&err) : 0;
	if (!strcmp(cmd, "gc")) {
		struct cni_attachment *valid = NULL;
		size_t n_valid = 0;
		const char *vs = getenv("CNI_VALID_ATTACHMENTS");
		if (vs && *vs && parse_valid(vs, &valid, &n_valid, &err) < 0)
			return fail(&err);
		/* an empty list still is a list: everything is stale, and
		 * plugins get the key */
		static const struct cni_attachment none;
		int r = cni_rt_gc(&rt, list, valid ? valid : (vs && *vs ? &none : NULL), n_valid, &err);
		cni_attachments_free(valid, n_valid);
		return r < 0 ? fail(&err) : 0;
	}

	_cleanup_free_ char *netns = cni_rt_abs_path(netns_arg);
	if (!netns) {
		cni_errorf(&err, CNI_ERR_INTERNAL, "cannot make \"%s\" absolute", netns_arg);
		return fail(&err);
	}
	char cid[8 + 20 + 1];
	cni_rt_container_id(netns, cid);

	struct cni_arg *args = NULL;
	size_t n_args = 0;
	_cleanup_json_ json_t *caps = NULL;
	if (cni_rt_parse_cap_args(getenv("CAP_ARGS"), &caps, &err) < 0 ||
	    cni_rt_parse_cni_args(getenv("CNI_ARGS"), &args, &n_args, &err) < 0)
		return fail(&err);
	struct cni_rt_conf rc = {
		.container_id = cid, .netns = netns, .ifname = ifname,
		.args = args, .n_args = n_args, .cap_args = caps,
	};
	int r = 0;
	if (!strcmp(cmd, "add")) {
		_cleanup_json_ json_t *res = NULL;
		r = cni_rt_add(&rt, list, &rc, &res, &err);
		if (r == 0) {
			_cleanup_free_ char *s = json_dumps(res, JSON_INDENT(4));
			printf("%s\n", s ? s : "{}");
		}
	} else if (!strcmp(cmd, "check")) {
		r = cni_rt_check(&rt, list, &rc, &err);
	} else {
		r = cni_rt_del(&rt, list, &rc, &err);
	}
	cni_args_free(args, n_args);
	return r < 0 ? fail(&err) : 0;
}
