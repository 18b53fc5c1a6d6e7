/* Running other plugins: lookup in CNI_PATH, spawn, pipe stdin/stdout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/wait.h>
#include <time.h>

#include "cni/exec.h"
#include "cni/json.h"

extern char **environ;

/* Defined by the multicall binary (tools/cni-c/main.c): the main() of the
 * plugin named by a path's basename, or NULL. Absent elsewhere. */
int (*cni_multicall_main(const char *path))(int, char **) __attribute__((weak));

/* The plugin's main() when `binary` is this very executable (the plugins
 * of the multicall build are hard links of one file): then the child need
 * not exec itself again. Same inode only: a binary swapped in under the
 * same name is exec'd as any other. */
static int (*self_main(const char *binary))(int, char **)
{
	struct stat a, b;
	if (!cni_multicall_main || stat(binary, &a) < 0 || stat("/proc/self/exe", &b) < 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino)
		return NULL;
	return cni_multicall_main(binary);
}

/* Start the child. A delegate that is this executable runs in a forked
 * child that calls its main() directly: what an exec would run, minus the
 * exec and the C library's start-up (~0.5 ms of CPU per call here, most of
 * it CPUID traps of the CPU feature probe under the hypervisor). The child
 * gets exactly what an exec'd one would see: stdin/stdout on the pipes, no
 * other descriptor, the same environment. */
static int spawn(const char *binary, char **env, int in_fd, int out_fd, pid_t *pid)
{
	int (*fn)(int, char **) = self_main(binary);
	if (fn) {
		fflush(NULL);
		pid_t c = fork();
		if (c < 0)
			return errno;
		if (c == 0) {
			if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0)
				_exit(127);
			if (close_range(3, ~0U, 0) < 0)
				for (int fd = 3; fd < 1024; fd++)
					close(fd);
			environ = env;
			const char *base = strrchr(binary, '/');
			prctl(PR_SET_NAME, base ? base + 1 : binary, 0, 0, 0);
			char *argv[] = { (char *)binary, NULL };
			int rc = fn(1, argv);
			fflush(NULL);
			_exit(rc);
		}
		*pid = c;
		return 0;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	char *argv[] = { (char *)binary, NULL };
	int e = 0;
	for (int attempt = 0; attempt < 20; attempt++) {
		e = posix_spawn(pid, binary, &fa, NULL, argv, env);
		if (e != ETXTBSY) /* binary being replaced: retry briefly, like libcni */
			break;
		nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
	}
	posix_spawn_file_actions_destroy(&fa);
	return e;
}

char *cni_exec_find(const char *type, const char *path, struct cni_error *err)
{
	if (!type || !*type) {
		cni_errorf(err, CNI_ERR_INVALID_CONFIG, "no plugin name provided");
		return NULL;
	}
	if (strchr(type, '/') || !strcmp(type, ".") || !strcmp(type, "..")) {
		cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid plugin name \"%s\": must not contain path separators",
			   type);
		return NULL;
	}
	if (!path || !*path) {
		cni_errorf(err, CNI_ERR_INVALID_ENV, "required env variables [CNI_PATH] missing (needed to find plugin \"%s\")",
			   type);
		return NULL;
	}
	const char *p = path;
	while (*p) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len) {
			char *cand = NULL;
			if (asprintf(&cand, "%.*s/%s", (int)len, p, type) < 0) {
				cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
				return NULL;
			}
			struct stat st;
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
				return cand;
			free(cand);
		}
		if (!end)
			break;
		p = end + 1;
	}
	cni_errorf(err, CNI_ERR_DELEGATE, "failed to find plugin \"%s\" in path [%s]", type, path);
	return NULL;
}

static bool env_matches(const char *entry, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t n = eq ? (size_t)(eq - kv) : strlen(kv);
	return !strncmp(entry, kv, n) && entry[n] == '=';
}

static char **build_env(const struct cni_exec_req *req)
{
	size_t n = 0, extra = 0;
	while (environ[n])
		n++;
	for (const char *const *s = req->env_set; s && *s; s++)
		extra++;
	char **env = cni_xcalloc(n + extra + 1, sizeof(char *));
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool drop = false;
		for (const char *const *s = req->env_set; s && *s && !drop; s++)
			drop = env_matches(environ[i], *s);
		for (const char *const *s = req->env_unset; s && *s && !drop; s++)
			drop = env_matches(environ[i], *s);
		if (!drop)
			env[k++] = environ[i];
	}
	for (const char *const *s = req->env_set; s && *s; s++)
		env[k++] = (char *)*s;
	env[k] = NULL;
	return env;
}

/* Turn a failed child's stdout into our error: its own error object if it
 * printed one, else a generic message. */
static int child_error(const char *binary, const char *out, int status, struct cni_error *err)
{
	json_t *j = out && *out ? json_loads(out, 0, NULL) : NULL;
	json_t *code = j ? json_object_get(j, "code") : NULL;
	if (code && json_is_integer(code)) {
		const char *msg = json_string_value(json_object_get(j, "msg"));
		const char *det = json_string_value(json_object_get(j, "details"));
		err->code = (unsigned)json_integer_value(code);
		snprintf(err->msg, sizeof(err->msg), "%s", msg ? msg : "");
		snprintf(err->details, sizeof(err->details), "%s", det ? det : "");
		json_decref(j);
		return -1;
	}
	if (j)
		json_decref(j);
	const char *base = strrchr(binary, '/');
	base = base ? base + 1 : binary;
	if (WIFSIGNALED(status))
		return cni_errorf(err, CNI_ERR_DELEGATE, "plugin \"%s\" killed by signal %d", base, WTERMSIG(status));
	return cni_errorf(err, CNI_ERR_DELEGATE, "plugin \"%s\" failed with exit status %d%s%.200s", base,
			  WEXITSTATUS(status), out && *out ? ": " : "", out ? out : "");
}

int cni_exec_run(const struct cni_exec_req *req, char **out, size_t *out_len, struct cni_error *err)
{
	int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
	char **env = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	pid_t pid = -1;
	int rc = -1;
	bool too_much = false;

	*out = NULL;
	if (out_len)
		*out_len = 0;
	if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0) {
		cni_errorf_errno(err, CNI_ERR_DELEGATE, errno, "pipe");
		goto done;
	}
	env = build_env(req);
	if (!env) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		goto done;
	}
	int e = spawn(req->binary, env, in_pipe[0], out_pipe[1], &pid);
	if (e) {
		pid = -1;
		cni_errorf_errno(err, CNI_ERR_DELEGATE, e, "failed to execute plugin \"%s\"", req->binary);
		goto done;
	}
	close(in_pipe[0]);
	in_pipe[0] = -1;
	close(out_pipe[1]);
	out_pipe[1] = -1;
	fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
	size_t woff = 0;
	if (!req->stdin_len) {
		close(in_pipe[1]);
		in_pipe[1] = -1;
	}
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	for (;;) {
		struct pollfd pfd[2] = { { .fd = out_pipe[0], .events = POLLIN }, { .fd = in_pipe[1], .events = POLLOUT } };
		int nfds = in_pipe[1] >= 0 ? 2 : 1;
		if (poll(pfd, (nfds_t)nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (nfds == 2 && (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(in_pipe[1], req->stdin_data + woff, req->stdin_len - woff);
			if (w > 0)
				woff += (size_t)w;
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				woff = req->stdin_len; /* child closed stdin */
			if (woff >= req->stdin_len) {
				close(in_pipe[1]);
				in_pipe[1] = -1;
			}
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (len + 4096 + 1 > cap) {
				size_t ncap = cap ? cap * 2 : 8192;
				if (ncap > CNI_STDIN_MAX * 2u) {
					too_much = true;
					kill(pid, SIGKILL);
					break;
				}
				char *nb = realloc(buf, ncap);
				if (!nb)
					break;
				buf = nb;
				cap = ncap;
			}
			ssize_t r = read(out_pipe[0], buf + len, cap - len - 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			len += (size_t)r;
		}
	}
	signal(SIGPIPE, old);
	if (!buf)
		buf = calloc(1, 1);
	if (buf)
		buf[len] = '\0';
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (!buf) {
		cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		goto done;
	}
	if (too_much) {
		cni_errorf(err, CNI_ERR_DELEGATE, "plugin \"%s\" printed more than %u bytes", req->binary,
			   CNI_STDIN_MAX * 2u);
		goto done;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		child_error(req->binary, buf, status, err);
		goto done;
	}
	*out = buf;
	buf = NULL;
	if (out_len)
		*out_len = len;
	rc = 0;
done:
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
	}
	free(env);
	free(buf);
	return rc;
}

const char *cni_ipam_type(const json_t *conf)
{
	json_t *t = cj_get(cj_get(conf, "ipam"), "type");
	if (!t || !json_is_string(t) || !*json_string_value(t))
		return NULL;
	return json_string_value(t);
}

int cni_delegate_conf(const struct cni_call *call, const char *type, enum cni_command cmd, const char *conf_data,
		      size_t conf_len, struct cni_result **result, struct cni_error *err)
{
	_cleanup_free_ char *bin = cni_exec_find(type, call->path, err);
	if (!bin)
		return -1;
	char cmdenv[32];
	snprintf(cmdenv, sizeof(cmdenv), "CNI_COMMAND=%s", cni_command_name(cmd));
	const char *set[] = { cmdenv, NULL };
	struct cni_exec_req req = {
		.binary = bin, .env_set = set, .stdin_data = conf_data, .stdin_len = conf_len,
	};
	_cleanup_free_ char *out = NULL;
	if (cni_exec_run(&req, &out, NULL, err) < 0)
		return -1;
	if (cmd != CNI_CMD_ADD || !result)
		return 0;
	json_error_t jerr;
	_cleanup_json_ json_t *j = json_loads(out, 0, &jerr);
	if (!j)
		return cni_errorf(err, CNI_ERR_DECODE, "failed to decode result of plugin \"%s\": %s", type, jerr.text);
	*result = cni_result_decode(j, call->version, err);
	return *result ? 0 : -1;
}

int cni_delegate(const struct cni_call *call, const char *type, enum cni_command cmd, struct cni_result **result,
		 struct cni_error *err)
{
	return cni_delegate_conf(call, type, cmd, call->stdin_data, call->stdin_len, result, err);
}

static void *delegate_bg_main(void *arg)
{
	struct cni_delegate_bg *bg = arg;
	bg->rc = cni_delegate(bg->call, bg->type, bg->cmd, NULL, &bg->err);
	return NULL;
}

void cni_delegate_bg_start(struct cni_delegate_bg *bg, const struct cni_call *call, const char *type,
			   enum cni_command cmd)
{
	*bg = (struct cni_delegate_bg){ .call = call, .type = type, .cmd = cmd };
	if (pthread_create(&bg->thread, NULL, delegate_bg_main, bg) == 0) {
		bg->threaded = true;
	} else {
		delegate_bg_main(bg);
	}
}

int cni_delegate_bg_wait(struct cni_delegate_bg *bg, struct cni_error *err)
{
	if (bg->threaded) {
		pthread_join(bg->thread, NULL);
		bg->threaded = false;
	}
	if (bg->rc < 0 && err)
		*err = bg->err;
	return bg->rc;
}
