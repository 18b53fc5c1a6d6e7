/* /proc/sys reads and writes. A /proc/sys/net file belongs to the netns
 * of the thread that opens it, so callers enter the netns first. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "cni/netlink.h"

static int sysctl_path(const char *key, char *path, size_t len, struct cni_error *err)
{
	if (!key || !*key || strstr(key, "..") || key[0] == '/')
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid sysctl key \"%s\"", key ? key : "");
	if ((size_t)snprintf(path, len, "/proc/sys/%s", key) >= len)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "sysctl key too long: \"%s\"", key);
	return 0;
}

int cni_sysctl_get(const char *key, char *buf, size_t len, struct cni_error *err)
{
	char path[256];
	if (sysctl_path(key, path, sizeof(path), err) < 0)
		return -1;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cni_errorf_errno(err, errno == ENOENT ? CNI_ERR_NOT_FOUND : CNI_ERR_NETLINK, errno,
					"failed to read sysctl %s", key);
	ssize_t n;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return cni_errorf_errno(err, CNI_ERR_NETLINK, errno, "failed to read sysctl %s", key);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

int cni_sysctl_set(const char *key, const char *value, struct cni_error *err)
{
	char cur[256];
	if (cni_sysctl_get(key, cur, sizeof(cur), err) < 0)
		return -1;
	if (!strcmp(cur, value))
		return 0;
	return cni_sysctl_write(key, value, err);
}

int cni_sysctl_write(const char *key, const char *value, struct cni_error *err)
{
	char path[256];
	if (sysctl_path(key, path, sizeof(path), err) < 0)
		return -1;
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return cni_errorf_errno(err, CNI_ERR_NETLINK, errno, "failed to write sysctl %s=%s", key, value);
	size_t len = strlen(value);
	ssize_t n;
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len)
		return cni_errorf_errno(err, CNI_ERR_NETLINK, n < 0 ? errno : EIO, "failed to write sysctl %s=%s", key,
					value);
	return 0;
}

int cni_sysctl_setf(const char *value, struct cni_error *err, const char *fmt, ...)
{
	char key[200];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(key, sizeof(key), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(key))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "sysctl key too long");
	return cni_sysctl_set(key, value, err);
}

int cni_sysctl_writef(const char *value, struct cni_error *err, const char *fmt, ...)
{
	char key[200];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(key, sizeof(key), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(key))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "sysctl key too long");
	return cni_sysctl_write(key, value, err);
}
