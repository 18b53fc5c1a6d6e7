/* Replacing small state files (records, the runtime's result cache) so that
 * a reader sees the old or the new content, and a process killed at any
 * moment leaves nothing a DEL cannot find.
 *
 * The content goes into an unnamed O_TMPFILE inode in the target's
 * directory; only when it is complete (and synced, if asked) is it linked
 * as "<path>.tmp" and renamed over path, so the temporary name exists for
 * the two syscalls in between instead of for the whole write (and fsync).
 * The name is fixed, not per process: whoever removes path removes a
 * leftover of a crash in that window with one more unlink
 * (cni_file_remove), no directory scan. Where O_TMPFILE is refused (some
 * filesystems) "<path>.tmp" is written directly. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni/common.h"

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* link the unnamed inode fd as name (root: AT_EMPTY_PATH; else via /proc) */
static int link_tmpfile(int fd, const char *name)
{
	if (linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOENT && errno != EPERM)
		return -errno;
	char proc[40];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
}

int cni_file_tmp_name(char *out, size_t len, const char *path)
{
	int n = snprintf(out, len, "%s.tmp", path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool cni_file_is_tmp(const char *name)
{
	size_t l = strlen(name);
	return l > 4 && !strcmp(name + l - 4, ".tmp");
}

int cni_mkdir_p(const char *path, mode_t mode)
{
	char p[PATH_MAX];
	size_t len = strlen(path);
	if (len >= sizeof(p))
		return errno = ENAMETOOLONG, -ENAMETOOLONG;
	memcpy(p, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		p[i] = c;
	}
	return 0;
}

int cni_file_replace(const char *path, const void *data, size_t len, bool sync, mode_t mode)
{
	char tmp[4200], dir[4200];
	if (cni_file_tmp_name(tmp, sizeof(tmp), path) < 0)
		return -ENAMETOOLONG;
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	bool named = fd < 0;
	if (named) { /* no O_TMPFILE here: the temporary name for the whole write */
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd < 0)
			return -errno;
	}
	int r = write_all(fd, data, len);
	if (r == 0 && sync && fsync(fd) < 0)
		r = -errno;
	for (int attempt = 0; r == 0 && !named && attempt < 2; attempt++) {
		r = link_tmpfile(fd, tmp);
		if (r == -EEXIST) { /* a crash's leftover in this window: replace it */
			unlink(tmp);
			r = attempt ? -EEXIST : 0;
			continue;
		}
		named = r == 0;
		break;
	}
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0 && named)
		unlink(tmp);
	return r;
}

int cni_file_remove(const char *path)
{
	char tmp[4200];
	if (cni_file_tmp_name(tmp, sizeof(tmp), path) == 0)
		unlink(tmp);
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}
