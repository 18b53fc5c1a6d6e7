/* setns(2)-based namespace switching. Plugins are single-threaded, so the
 * calling thread's namespace is the process's namespace. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>

#include "cni/netns.h"

int netns_open(const char *path, struct cni_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cni_errorf_errno(err, CNI_ERR_NETNS, errno, "failed to open netns \"%s\"", path);
	return fd;
}

int netns_enter(int nsfd, int *saved_fd, struct cni_error *err)
{
	*saved_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved_fd < 0)
		return cni_errorf_errno(err, CNI_ERR_NETNS, errno, "failed to open current netns");
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		int e = errno;
		close(*saved_fd);
		*saved_fd = -1;
		return cni_errorf_errno(err, CNI_ERR_NETNS, e, "failed to enter netns");
	}
	return 0;
}

int netns_leave(int saved_fd, struct cni_error *err)
{
	int r = 0;
	if (saved_fd < 0)
		return 0;
	if (setns(saved_fd, CLONE_NEWNET) < 0)
		r = cni_errorf_errno(err, CNI_ERR_NETNS, errno, "failed to return to the original netns");
	close(saved_fd);
	return r;
}

int netns_run_fd(int nsfd, int (*fn)(void *arg, struct cni_error *err), void *arg, struct cni_error *err)
{
	int saved;
	if (netns_enter(nsfd, &saved, err) < 0)
		return -1;
	int r = fn(arg, err);
	struct cni_error back = { 0 };
	if (netns_leave(saved, &back) < 0) {
		if (err)
			*err = back;
		return -1;
	}
	return r;
}

int netns_run(const char *path, int (*fn)(void *arg, struct cni_error *err), void *arg, struct cni_error *err)
{
	int fd = netns_open(path, err);
	if (fd < 0)
		return -1;
	int r = netns_run_fd(fd, fn, arg, err);
	close(fd);
	return r;
}
