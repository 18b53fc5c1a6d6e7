/*
 * runru: run one plugin and log what it cost (wall, user, sys, peak RSS).
 *
 * Installed as symlinks named after plugins in a wrapper directory that
 * also holds `.real`, a symlink to the real plugin directory; a runtime
 * pointed at the wrapper directory runs <dir>/.real/<name> through runru.
 * Delegated IPAM found on the same CNI_PATH is measured the same way.
 * One line per invocation is appended to $RUNRU_LOG:
 *
 *   <name> <CNI_COMMAND> <wall_ns> <user_us> <sys_us> <maxrss_kib> <child_pid> <runru_parent_pid> <status> <wrapper_dir>
 *
 * user/sys/maxrss come from wait4(), so they include the plugin's own
 * reaped children (its IPAM): the harness subtracts nested entries (an
 * entry whose runru_parent_pid is another entry's child_pid) for CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	(void)argc;
	char self[4096], real[4096], d[4096], b[256];
	snprintf(self, sizeof(self), "%s", argv[0]);
	snprintf(d, sizeof(d), "%s", dirname(self));
	snprintf(self, sizeof(self), "%s", argv[0]);
	snprintf(b, sizeof(b), "%s", basename(self));
	if ((size_t)snprintf(real, sizeof(real), "%s/.real/%s", d, b) >= sizeof(real))
		return 127;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		argv[0] = real;
		execv(real, argv);
		fprintf(stderr, "runru: exec %s: %s\n", real, strerror(errno));
		_exit(127);
	}
	int status = 0;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return 127;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	const char *log = getenv("RUNRU_LOG");
	if (log) {
		int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			const char *cmd = getenv("CNI_COMMAND");
			dprintf(fd, "%s %s %lld %ld %ld %ld %d %d %d %s\n", b, cmd ? cmd : "-",
				(long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec),
				(long)(ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec),
				(long)(ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec), ru.ru_maxrss, (int)pid,
				(int)getppid(), WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), d);
			close(fd);
		}
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
