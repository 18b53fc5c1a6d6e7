/* Running another plugin: lookup in CNI_PATH, exec with stdin, collect
 * stdout, turn its error object into ours. Used by IPAM delegation and by
 * the runtime side (cnitool). */
#ifndef CNI_EXEC_H
#define CNI_EXEC_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "cni/common.h"
#include "cni/plugin.h"
#include "cni/result.h"

/* Find `type` in the ':'-separated `path`. `type` may not contain '/' or be
 * "." / "..". Returns a malloc'd absolute path, or NULL with err (code 100,
 * "failed to find plugin "<type>" in path [...]"). */
char *cni_exec_find(const char *type, const char *path, struct cni_error *err);

/* Extra environment for a child: NULL-terminated "K=V" strings that replace
 * same-named variables of the current environment. */
struct cni_exec_req {
	const char *binary;        /* absolute path */
	const char *const *env_set;/* "K=V" overrides */
	const char *const *env_unset; /* names to drop */
	const char *stdin_data;
	size_t stdin_len;
};

/* Run it; on exit 0 *out gets stdout (malloc'd, NUL-terminated). On failure:
 * when the child printed a CNI error object, err gets its code/msg/details
 * unchanged; otherwise code 100 with its stderr or exit status. */
int cni_exec_run(const struct cni_exec_req *req, char **out, size_t *out_len, struct cni_error *err);

/* Delegation as the reference does it: same stdin, same environment, only
 * CNI_COMMAND replaced. `type` is looked up in call->path. For ADD the
 * delegate's result is decoded (in call->version) into *result. */
int cni_delegate(const struct cni_call *call, const char *type, enum cni_command cmd,
		 struct cni_result **result, struct cni_error *err);
/* Same with a different stdin (a modified config). */
int cni_delegate_conf(const struct cni_call *call, const char *type, enum cni_command cmd,
		      const char *conf_data, size_t conf_len, struct cni_result **result,
		      struct cni_error *err);

/* A delegation run from a second thread while the caller goes on: DEL
 * starts its IPAM release and deletes the link meanwhile, so the link's
 * kernel teardown (an RCU barrier, ~17 ms) and the IPAM plugin's exec
 * overlap. The thread stays in the netns it started in (setns is per
 * thread), so the child runs in the caller's original netns even when the
 * caller enters the container's meanwhile. `call` must not change until
 * the wait. Falls back to running in place when no thread can be made. */
struct cni_delegate_bg {
	const struct cni_call *call;
	const char *type;
	enum cni_command cmd;
	struct cni_error err;
	int rc;
	bool threaded;
	pthread_t thread;
};
void cni_delegate_bg_start(struct cni_delegate_bg *bg, const struct cni_call *call, const char *type,
			   enum cni_command cmd);
/* -> the delegation's return value, err filled when it failed */
int cni_delegate_bg_wait(struct cni_delegate_bg *bg, struct cni_error *err);

/* `ipam.type` of the config, or NULL when absent/empty. */
const char *cni_ipam_type(const json_t *conf);

#endif
