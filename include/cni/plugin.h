/* The plugin frame: environment and stdin handling, version negotiation,
 * dispatch to a table of callbacks, result and error output.
 *
 * A plugin's main.c is:
 *
 *     static const struct cni_plugin plugin = {
 *         .name = "loopback", .add = cmd_add, .del = cmd_del, .check = cmd_check,
 *     };
 *     int main(int argc, char **argv) { return cni_plugin_main(&plugin, argc, argv); }
 */
#ifndef CNI_PLUGIN_H
#define CNI_PLUGIN_H

#include <jansson.h>
#include <stdbool.h>

#include "cni/common.h"
#include "cni/result.h"

enum cni_command {
	CNI_CMD_NONE = 0,
	CNI_CMD_ADD,
	CNI_CMD_DEL,
	CNI_CMD_CHECK,
	CNI_CMD_VERSION,
	CNI_CMD_STATUS,
	CNI_CMD_GC,
};

const char *cni_command_name(enum cni_command c);

/* Upper bound on stdin; larger input is an error (code 5), not an OOM. */
#define CNI_STDIN_MAX (4u << 20)

/* One CNI_ARGS pair. */
struct cni_arg {
	char *key;
	char *value;
};

/* Everything a callback gets. Strings are owned by the frame. */
struct cni_call {
	enum cni_command cmd;
	const char *container_id; /* CNI_CONTAINERID, may be "" for STATUS/GC */
	const char *netns;        /* CNI_NETNS, may be "" */
	const char *ifname;       /* CNI_IFNAME */
	const char *args_env;     /* raw CNI_ARGS */
	const char *path;         /* CNI_PATH */

	/* stdin, raw (for delegation: delegates get the same bytes) and parsed */
	char *stdin_data;
	size_t stdin_len;
	json_t *conf;             /* the network configuration object */
	const char *version;      /* cniVersion of the config ("0.1.0" when missing) */
	const char *net_name;     /* `name` */

	/* parsed CNI_ARGS */
	struct cni_arg *args;
	size_t n_args;
	bool args_ignore_unknown;

	/* prevResult decoded in the config's version, or NULL */
	struct cni_result *prev;

	/* DEL/CHECK: true when CNI_NETNS names a path that no longer exists */
	bool netns_gone;

	/* ADD output: set `result` (encoded in `version`), or `raw_output`
	 * (printed verbatim) for plugins that pass a result through. */
	struct cni_result *result;
	json_t *raw_output;

	struct cni_error err;
};

typedef int (*cni_cmd_fn)(struct cni_call *call);

struct cni_plugin {
	const char *name;          /* "bridge" */
	const char *about;         /* one line; printed when CNI_COMMAND is absent */
	const char *const *versions; /* supported versions, NULL-terminated; NULL = all */
	/* CNI_ARGS keys the plugin understands; NULL = CNI_ARGS not validated.
	 * Unknown keys are refused unless IgnoreUnknown=1/true is present. */
	const char *const *args_keys;
	cni_cmd_fn add, del, check, status, gc;
};

int cni_plugin_main(const struct cni_plugin *p, int argc, char **argv);

/* Value of a CNI_ARGS key (case-sensitive, as the reference), or NULL. */
const char *cni_call_arg(const struct cni_call *c, const char *key);
/* `runtimeConfig.<key>` / `args.cni.<key>` of the config, or NULL. */
json_t *cni_call_runtime_config(const struct cni_call *c, const char *key);
json_t *cni_call_args_cni(const struct cni_call *c, const char *key);
/* Does the config object list capability `cap` as true? */
bool cni_conf_has_capability(const json_t *conf, const char *cap);

/* One attachment of a GC's valid list. */
struct cni_attachment {
	char *container_id;
	char *ifname;
};
/* GC: the `cni.dev/valid-attachments` list (or the legacy
 * `cni.dev/attachments`) of the config. *present is false when neither key
 * is there (nothing may be collected then); an empty list means every
 * attachment is stale. */
int cni_gc_valid_attachments(const json_t *conf, struct cni_attachment **out, size_t *n, bool *present,
			     struct cni_error *err);
void cni_attachments_free(struct cni_attachment *a, size_t n);
bool cni_attachment_valid(const struct cni_attachment *list, size_t n, const char *cid, const char *ifname);

/* Parse "K=V;K2=V2" into pairs. code 4 naming CNI_ARGS on bad pairs. */
int cni_args_parse(const char *s, struct cni_arg **out, size_t *n, struct cni_error *err);
void cni_args_free(struct cni_arg *a, size_t n);

/* Validation helpers exposed for tests and for cnitool. */
int cni_validate_container_id(const char *id, struct cni_error *err);
int cni_validate_ifname(const char *name, struct cni_error *err);
int cni_validate_net_name(const char *name, struct cni_error *err);

/* Write the CNI error object for `version` (may be NULL) to fd. */
void cni_print_error(int fd, const struct cni_error *e, const char *version);

#endif
