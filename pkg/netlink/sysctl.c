/* /proc/sys reads and writes. A /proc/sys/net file belongs to the netns
 * of the thread that opens it, so callers enter the netns first.
 *
 * Path lookups under /proc/sys/net are O(netns on the machine): the
 * dentries of /proc/sys/net/ipv4 (ipv6, ...) of every netns that ever
 * looked there hang in one dcache hash chain under the one shared
 * /proc/sys/net, and each lookup compares against all of them. Measured
 * with 3000 netns: 0.5-0.7 ms per open in an old netns, 5 ms for the first
 * open in a fresh one (a container's), against 10-30 us with few netns.
 * So keys under net/ are opened through a procfs instance of our own: a
 * detached mount (fsopen/fsmount, never attached anywhere, gone when the
 * process exits) has its own superblock and dcache, whose chains hold only
 * the netns this process looked at; it costs ~80 us in all. Where that
 * is refused (old kernel, LSM) the shared /proc/sys is used, through a
 * per-netns dirfd of /proc/sys/net/<family> so each (netns, family) pays
 * the walk once per process. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/ip.h>
#include <sys/socket.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cni/netlink.h"

struct dir_cache {
	dev_t dev;
	ino_t ino;      /* netns */
	char top[16];   /* "ipv4", "ipv6", ... */
	int fd;
};
static struct dir_cache dcache[6];

/* fd of /proc/sys/net/<top> of the calling thread's netns, or -1 */
static int net_dir(const char *top, size_t toplen)
{
	struct stat ns;
	if (toplen == 0 || toplen >= sizeof(dcache[0].top) || stat("/proc/thread-self/ns/net", &ns) < 0)
		return -1;
	struct dir_cache *slot = NULL;
	for (size_t i = 0; i < sizeof(dcache) / sizeof(dcache[0]); i++) {
		struct dir_cache *d = &dcache[i];
		if (d->fd > 0 && d->dev == ns.st_dev && d->ino == ns.st_ino && !strncmp(d->top, top, toplen) &&
		    !d->top[toplen])
			return d->fd;
		if (!slot && d->fd <= 0)
			slot = d;
	}
	char path[48];
	snprintf(path, sizeof(path), "/proc/sys/net/%.*s", (int)toplen, top);
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (!slot) { /* full: forget the oldest */
		close(dcache[0].fd);
		memmove(dcache, dcache + 1, sizeof(dcache) - sizeof(dcache[0]));
		slot = &dcache[sizeof(dcache) / sizeof(dcache[0]) - 1];
	}
	slot->dev = ns.st_dev;
	slot->ino = ns.st_ino;
	memcpy(slot->top, top, toplen);
	slot->top[toplen] = '\0';
	slot->fd = fd;
	return fd;
}

int cni_detached_mount(const char *fstype)
{
	int mnt = -1;
#if defined(SYS_fsopen) && defined(SYS_fsconfig) && defined(SYS_fsmount)
	int fs = (int)syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	close(fs);
#else
	(void)fstype;
#endif
	return mnt < 0 ? -1 : mnt;
}

/* the root of our own procfs instance, or -1 */
static int private_proc(void)
{
	static int mnt = -2;
	if (mnt == -2)
		mnt = cni_detached_mount("proc");
	return mnt;
}

/* open /proc/sys/<key>; keys under net/ through our own procfs, else
 * through the cached /proc/sys/net/<x> dir */
static int sysctl_open(const char *key, int flags)
{
	if (!strncmp(key, "net/", 4)) {
		int m = private_proc();
		if (m >= 0) {
			char rel[256];
			snprintf(rel, sizeof(rel), "sys/%s", key);
			return openat(m, rel, flags | O_CLOEXEC);
		}
		const char *top = key + 4, *rest = strchr(top, '/');
		if (rest && rest[1]) {
			int dfd = net_dir(top, (size_t)(rest - top));
			if (dfd >= 0)
				return openat(dfd, rest + 1, flags | O_CLOEXEC);
		}
	}
	char path[256];
	snprintf(path, sizeof(path), "/proc/sys/%s", key);
	return open(path, flags | O_CLOEXEC);
}

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
	_cleanup_close_ int fd = sysctl_open(key, O_RDONLY);
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
	_cleanup_close_ int fd = sysctl_open(key, O_WRONLY);
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

/* *f functions: the key from a format, then set (read first) or write */
static int sysctl_vkey(int (*op)(const char *, const char *, struct cni_error *), const char *value,
		       struct cni_error *err, const char *fmt, va_list ap)
{
	char key[200];
	int n = vsnprintf(key, sizeof(key), fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(key))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "sysctl key too long");
	return op(key, value, err);
}

int cni_sysctl_setf(const char *value, struct cni_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = sysctl_vkey(cni_sysctl_set, value, err, fmt, ap);
	va_end(ap);
	return r;
}

int cni_sysctl_writef(const char *value, struct cni_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = sysctl_vkey(cni_sysctl_write, value, err, fmt, ap);
	va_end(ap);
	return r;
}

int cnl_forwarding_ensure(struct nl_sock *sk, int family, struct cni_error *err)
{
	bool on = false;
	struct cni_error e = { 0 };
	if (sk && cnl_forwarding_get(sk, family, &on, &e) == 0) {
		if (on)
			return 0;
		return cni_sysctl_write(family == AF_INET ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding",
					"1", err);
	}
	return cni_sysctl_set(family == AF_INET ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding", "1",
			      err);
}

void cnl_link_notify_peers_on(struct nl_sock *sk, const struct cnl_link *l, bool ndisc)
{
	struct cni_error ignored = { 0 };
	if (l->in4_arp_notify != 1 &&
	    cnl_link_set_inet_conf(sk, l->ifindex, IPV4_DEVCONF_ARP_NOTIFY, 1, &ignored) < 0)
		(void)cni_sysctl_setf("1", &ignored, "net/ipv4/conf/%s/arp_notify", l->name);
	if (ndisc && l->in6_ndisc_notify != 1 && l->in6_ndisc_notify != -1)
		(void)cni_sysctl_writef("1", &ignored, "net/ipv6/conf/%s/ndisc_notify", l->name);
}
