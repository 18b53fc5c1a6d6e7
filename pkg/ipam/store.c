/* host-local's on-disk store.
 *
 * Files of the reference format in <dataDir>/<net>/:
 *   <ip>                  "<cid>\r\n<ifname>" (legacy: "<cid>"), one per reservation
 *   last_reserved_ip.<N>  the last address reserved from range set N
 *   lock                  flock'ed exclusively around every operation
 *
 * Reservations are made crash-safe: the content is written completely to a
 * file of .cni-c (a spare inode or a new temp file) before that file gets
 * the address's name: renameat2(RENAME_NOREPLACE), or link(2) + unlink
 * where the file system lacks it; both fail with EEXIST when the address
 * is taken, so a reservation is atomic and a
 * file named after an address is always complete for every process.
 *
 * Nothing is fsync'ed. fsync only matters when the machine itself crashes
 * (power loss, kernel panic): a killed process loses nothing that write(2)
 * returned, the page cache is the file for every later reader. After a
 * machine crash every container of the old boot is gone, so no reservation
 * of that boot is still in use; the index stamp records the boot id, so the
 * index of another boot is never trusted and is rebuilt from the address
 * files. What a machine crash can leave is an address file that is empty
 * or holds an older content of its inode (e.g. "cni-c spare", or a released
 * attachment's): it only keeps an address of a dead container reserved
 * until a DEL of the attachment it names or GC (which drops empty files and
 * everything not valid) releases it. The reference plugin writes its files
 * without fsync too (os.WriteFile), so it has the same exposure. fsync cost
 * ~0.2 ms CPU and ~0.3 ms wall per ADD on ext4.
 *
 * Our bookkeeping lives in <dataDir>/<net>/.cni-c/ so that the reference
 * plugin, which walks the whole tree and reads every file, never mistakes
 * it for a reservation (none of these files has a content equal to a
 * container id, and none is named like an address):
 *   <cid>:<ifname>   the addresses held by an attachment ("<cid>:" for
 *                    legacy files), header line "cni-c attachment v1"
 *   stamp            a fingerprint of the directory (boot id, its mtime
 *                    and the last_reserved_ip.* contents) taken when the
 *                    index was last known to match the files, then
 *                    "spares <K>"; rewritten in place
 *   spare.<k>        k < K: inodes of released files ("cni-c spare"),
 *                    reused by ADD for the reservation and the record
 *   tmp-*            temp files (only ever present under the lock, or as
 *                    debris of a killed process; removed on rebuild)
 * ':' never occurs in a container id or an interface name, so a record's
 * name is unambiguous.
 *
 * The index makes ADD and DEL independent of the number of reservations:
 * they read one record and check each address it names against the
 * address's file (so a stale entry is harmless). The stamp's first byte is
 * overwritten before any change and the stamp written again after it, so a
 * process killed in between leaves a dirty stamp; nothing of the index is
 * fsync'ed, and a stamp of another boot is never trusted; a writer that does not know about the index
 * (the reference plugin) changes the directory's mtime and, for an ADD,
 * last_reserved_ip.N. Either way the next operation sees a fingerprint
 * mismatch and rebuilds the index from the address files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "cni/ipam.h"

#define META_DIR ".cni-c"
#define STAMP "stamp"
#define LOCK_FILE "lock"
#define LAST_IP_PREFIX "last_reserved_ip."
#define REC_MAGIC "cni-c attachment v1\n"
#define STAMP_MAGIC "cni-c stamp v2\n"
#define STAMP_MAX 1024
#define SPARE_PREFIX "spare."
#define SPARE_MAX 4096
#define SPARE_CONTENT "cni-c spare\n"
#define BOOT_ID "/proc/sys/kernel/random/boot_id"
#define CONTENT_MAX 4096
#define RECORD_MAX (1u << 20)

/* ---- small file helpers ---- */

static void closep_dir(DIR **d)
{
	if (*d)
		closedir(*d);
}
#define _cleanup_dir_ _cleanup_(closep_dir)

/* Read at most max-1 bytes of dirfd/name (not following symlinks) into a
 * NUL-terminated malloc'd buffer sized after the file (not after max: a
 * record may be 1 MiB, it is usually 30 bytes). NULL with errno set on
 * failure. */
static char *read_small(int dirfd, const char *name, size_t max, size_t *len)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return NULL;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return NULL;
	}
	/* st_size + 2: the read after the last byte finds EOF without growing;
	 * /proc files report 0 */
	size_t cap = st.st_size > 0 ? (size_t)st.st_size + 2 : 256;
	if (cap > max || st.st_size >= (off_t)max)
		cap = max;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	size_t got = 0;
	while (got < max - 1) {
		if (got == cap - 1) {
			size_t ncap = cap > max / 2 ? max : cap * 2;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + got, cap - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (len)
		*len = got;
	return buf;
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Create a fresh temp file in .cni-c holding data; name into buf. */
static int make_temp(struct ipam_store *s, const char *data, size_t len, char *name, size_t nlen,
		     struct cni_error *err)
{
	for (int tries = 0; tries < 100; tries++) {
		snprintf(name, nlen, "tmp-%d-%u", (int)getpid(), s->tmp_seq++);
		int fd = openat(s->meta_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s/" META_DIR ": cannot create a temp file",
						s->path);
		if (write_all(fd, data, len) < 0) {
			int e = errno;
			close(fd);
			unlinkat(s->meta_fd, name, 0);
			return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, e, "%s/" META_DIR ": cannot write a temp file",
						s->path);
		}
		if (close(fd) < 0) {
			int e = errno;
			unlinkat(s->meta_fd, name, 0);
			return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, e, "%s/" META_DIR ": cannot write a temp file",
						s->path);
		}
		return 0;
	}
	return cni_errorf(err, CNI_ERR_IPAM_STORE, "%s/" META_DIR ": cannot pick a temp file name", s->path);
}

/* Atomically replace dirfd/name with data. */
static int replace_file(struct ipam_store *s, int dirfd, const char *name, const char *data, size_t len,
			struct cni_error *err)
{
	char tmp[64];
	if (make_temp(s, data, len, tmp, sizeof(tmp), err) < 0)
		return -1;
	if (renameat(s->meta_fd, tmp, dirfd, name) < 0) {
		int e = errno;
		unlinkat(s->meta_fd, tmp, 0);
		return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, e, "%s: cannot write %s", s->path, name);
	}
	return 0;
}

/* Write dirfd/name in place: no new inode when it exists. old_len is the
 * size it had (-1 unknown: fstat). Falls back to replace_file when the name
 * is not a regular file (a symlink is replaced, never followed). Only for
 * files whose torn content is harmless: a hint, or an index covered by a
 * dirty stamp. */
static int write_in_place(struct ipam_store *s, int dirfd, const char *name, const char *data, size_t len,
			  long old_len, bool trunc, struct cni_error *err)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (trunc ? O_TRUNC : 0),
			0644);
	if (fd < 0 && (errno == ELOOP || errno == EISDIR || errno == ENXIO || errno == EWOULDBLOCK))
		return replace_file(s, dirfd, name, data, len, err);
	if (fd < 0)
		return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s: cannot write %s", s->path, name);
	struct stat st;
	if (old_len < 0 || !trunc) {
		if (fstat(fd, &st) < 0) {
			int e = errno;
			close(fd);
			return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, e, "%s: cannot write %s", s->path, name);
		}
		if (!S_ISREG(st.st_mode)) {
			close(fd);
			return replace_file(s, dirfd, name, data, len, err);
		}
		old_len = trunc ? 0 : (long)st.st_size;
	}
	int r = 0;
	ssize_t n;
	while ((n = pwrite(fd, data, len, 0)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)len || (old_len > (long)len && ftruncate(fd, (off_t)len) < 0))
		r = cni_errorf_errno(err, CNI_ERR_IPAM_STORE, n < 0 ? errno : EIO, "%s: cannot write %s", s->path, name);
	if (close(fd) < 0 && r == 0)
		r = cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s: cannot write %s", s->path, name);
	return r;
}

/* ---- names and contents ---- */

/* A name our store may create: one component, no ':' (record separator). */
static bool safe_component(const char *n, size_t max)
{
	size_t len = strlen(n);
	return len && len <= max && !strchr(n, '/') && !strchr(n, ':') && strcmp(n, ".") && strcmp(n, "..") &&
	       n[0] != '.';
}

/* Record name of an attachment; ifname NULL = legacy (cid only). false when
 * the names cannot be used in a file name (then callers scan instead). */
static bool record_name(const char *cid, const char *ifname, char *buf, size_t len)
{
	if (!safe_component(cid, 200) || (ifname && !safe_component(ifname, 32)))
		return false;
	snprintf(buf, len, "%s:%s", cid, ifname ? ifname : "");
	return true;
}

/* Is `name` the canonical text of an address? */
static bool ip_name(const char *name, struct cni_ip *ip)
{
	char back[CNI_IP_STRLEN];
	if (cni_ip_parse(name, ip) < 0)
		return false;
	return !strcmp(cni_ip_fmt(ip, back), name);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trim in place (the reference compares TrimSpace'd contents). */
static char *trim(char *s)
{
	while (*s && is_space(*s))
		s++;
	size_t n = strlen(s);
	while (n && is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Does the content of address file `name` equal "<cid>\r\n<ifname>" (or
 * "<cid>" with ifname NULL)? */
static bool content_matches(const char *content, const char *cid, const char *ifname)
{
	size_t cl = strlen(cid);
	if (strncmp(content, cid, cl))
		return false;
	if (!ifname)
		return content[cl] == '\0';
	return content[cl] == '\r' && content[cl + 1] == '\n' && !strcmp(content + cl + 2, ifname);
}

static bool file_held_by(struct ipam_store *s, const struct cni_ip *ip, const char *cid, const char *ifname)
{
	char name[CNI_IP_STRLEN];
	_cleanup_free_ char *c = read_small(s->root_fd, cni_ip_fmt(ip, name), CONTENT_MAX, NULL);
	return c && content_matches(trim(c), cid, ifname);
}

/* ---- spare inodes ----
 * Creating a file is by far the most expensive step of an operation on a
 * busy ext4 (inode allocation skips recently deleted inodes: ~0.5 ms per
 * create here, against 0.03 ms for a rename). A DEL therefore moves the
 * released address file and the attachment's record to .cni-c/spare.<k>
 * (content neutralized) and an ADD reuses them for the next reservation and
 * record. The count lives in the stamp: a killed process leaves it dirty
 * and the rebuild deletes every spare. */

static void spare_name(unsigned k, char *buf, size_t len)
{
	snprintf(buf, len, SPARE_PREFIX "%u", k);
}

/* Overwrite a spare's content with "cni-c spare\n" padded with '\n' to the
 * size it has (readers trim), so that no truncation is needed and the
 * inode keeps its size for the next content of that kind. */
static bool spare_neutralize(int fd, off_t size)
{
	char buf[CONTENT_MAX];
	size_t n = strlen(SPARE_CONTENT);
	if (size <= (off_t)n || size > (off_t)sizeof(buf))
		return pwrite(fd, SPARE_CONTENT, n, 0) == (ssize_t)n && (size <= (off_t)n || ftruncate(fd, (off_t)n) == 0);
	memcpy(buf, SPARE_CONTENT, n);
	memset(buf + n, '\n', (size_t)size - n);
	return pwrite(fd, buf, (size_t)size, 0) == (ssize_t)size;
}

/* Move dirfd/name into the pool (or unlink it when the pool cannot take
 * it). Only a regular file with a single link becomes a spare. */
static int spare_put(struct ipam_store *s, int dirfd, const char *name)
{
	if (s->index_ok && s->spares < SPARE_MAX) {
		int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			return -1;
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1) {
			char sp[32];
			spare_name(s->spares, sp, sizeof(sp));
			if (renameat2(dirfd, name, s->meta_fd, sp, RENAME_NOREPLACE) == 0) {
				s->spares++;
				/* never leave a content equal to an attachment's (the
				 * reference matches contents across the whole tree on DEL) */
				if (!spare_neutralize(fd, st.st_size)) { /* then not a spare */
					unlinkat(s->meta_fd, sp, 0);
					s->spares--;
				}
				close(fd);
				return 0;
			}
			int e = errno;
			close(fd);
			if (e == ENOENT) {
				errno = e;
				return -1;
			}
		} else if (fd >= 0) {
			close(fd);
		}
	}
	return unlinkat(dirfd, name, 0);
}

/* Open the last spare for rewriting (its size into *size); -1 when none
 * is usable. Only a regular file with a single link is reused. */
static int spare_open(struct ipam_store *s, char *sp, size_t len, off_t *size)
{
	while (s->index_ok && s->spares) {
		spare_name(s->spares - 1, sp, len);
		int fd = openat(s->meta_fd, sp, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1) {
			*size = st.st_size;
			return fd;
		}
		if (fd >= 0)
			close(fd);
		unlinkat(s->meta_fd, sp, 0);
		s->spares--;
	}
	return -1;
}

/* Give the complete file .cni-c/tmp the name dirfd/name unless that name
 * exists (EEXIST; tmp is then left in place). One rename where the file
 * system has RENAME_NOREPLACE, else link + unlink. */
static int place(struct ipam_store *s, const char *tmp, int dirfd, const char *name)
{
	if (renameat2(s->meta_fd, tmp, dirfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (linkat(s->meta_fd, tmp, dirfd, name, 0) < 0)
		return -1;
	unlinkat(s->meta_fd, tmp, 0);
	return 0;
}

/* ---- records ---- */

struct iplist {
	struct cni_ip *v;
	size_t n, cap;
};

static int iplist_push(struct iplist *l, const struct cni_ip *ip)
{
	for (size_t i = 0; i < l->n; i++)
		if (cni_ip_eq(&l->v[i], ip))
			return 0;
	if (cni_grow((void **)&l->v, &l->cap, l->n, sizeof(*l->v)) < 0)
		return -1;
	l->v[l->n++] = *ip;
	return 0;
}

static void iplist_remove(struct iplist *l, const struct cni_ip *ip)
{
	for (size_t i = 0; i < l->n; i++)
		if (cni_ip_eq(&l->v[i], ip)) {
			l->v[i] = l->v[--l->n];
			return;
		}
}

/* Addresses a record names (unverified). A missing or foreign record is
 * an empty list. */
static int record_read(struct ipam_store *s, const char *rec, struct iplist *out, bool *missing,
		       struct cni_error *err)
{
	memset(out, 0, sizeof(*out));
	if (missing)
		*missing = false;
	_cleanup_free_ char *buf = read_small(s->meta_fd, rec, RECORD_MAX, NULL);
	if (!buf) {
		if (missing && errno == ENOENT)
			*missing = true;
		if (errno == ENOENT || errno == ELOOP || errno == EINVAL)
			return 0;
		return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s/" META_DIR ": cannot read %s", s->path, rec);
	}
	if (strncmp(buf, REC_MAGIC, strlen(REC_MAGIC)))
		return 0;
	for (char *line = buf + strlen(REC_MAGIC), *next; *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		struct cni_ip ip;
		if (ip_name(line, &ip) && iplist_push(out, &ip) < 0) {
			free(out->v);
			memset(out, 0, sizeof(*out));
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		}
	}
	return 0;
}

/* Write record `rec` naming l's addresses (none: the record goes to the
 * spares). is_new: it is known not to exist (a spare becomes it). */
static int record_write(struct ipam_store *s, const char *rec, const struct iplist *l, bool is_new,
			struct cni_error *err)
{
	if (!l->n) {
		if (spare_put(s, s->meta_fd, rec) < 0 && errno != ENOENT)
			return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s/" META_DIR ": cannot remove %s",
						s->path, rec);
		return 0;
	}
	size_t cap = strlen(REC_MAGIC) + l->n * (CNI_IP_STRLEN + 1) + 1;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	size_t off = (size_t)snprintf(buf, cap, "%s", REC_MAGIC);
	for (size_t i = 0; i < l->n; i++) {
		char ip[CNI_IP_STRLEN];
		off += (size_t)snprintf(buf + off, cap - off, "%s\n", cni_ip_fmt(&l->v[i], ip));
	}
	/* in place: the stamp is dirty while records change, so a torn record
	 * is never trusted (see ipam_store_index_prepare). A new record is a
	 * spare renamed to its name and written through the same fd. */
	char sp[32];
	off_t ssize;
	int fd = is_new ? spare_open(s, sp, sizeof(sp), &ssize) : -1;
	if (fd >= 0) {
		if (renameat2(s->meta_fd, sp, s->meta_fd, rec, RENAME_NOREPLACE) == 0) {
			s->spares--;
			bool ok = pwrite(fd, buf, off, 0) == (ssize_t)off && (ssize <= (off_t)off || ftruncate(fd, (off_t)off) == 0);
			int e = errno;
			close(fd);
			if (!ok)
				return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, e, "%s/" META_DIR ": cannot write %s", s->path, rec);
			return 0;
		}
		close(fd);
	}
	return write_in_place(s, s->meta_fd, rec, buf, off, -1, false, err);
}

static int record_add(struct ipam_store *s, const char *rec, const struct cni_ip *ip, struct cni_error *err)
{
	struct iplist l;
	bool missing;
	if (record_read(s, rec, &l, &missing, err) < 0)
		return -1;
	int r = iplist_push(&l, ip) < 0 ? cni_errorf(err, CNI_ERR_INTERNAL, "out of memory")
					: record_write(s, rec, &l, missing, err);
	free(l.v);
	return r;
}

/* ---- fingerprint (stamp) ---- */

/* The boot the stamp was written in: the index files are written without
 * fsync, so after a crash of the machine (power loss, kernel panic) they may
 * have lost writes the stamp kept; a stamp of another boot is never trusted.
 * Within a boot the page cache is coherent and a killed process leaves a
 * dirty stamp. "-" when /proc is not mounted (then only the process-kill
 * argument holds). */
static const char *boot_id(void)
{
	static char id[64];
	if (!id[0]) {
		_cleanup_free_ char *c = read_small(AT_FDCWD, BOOT_ID, sizeof(id), NULL);
		snprintf(id, sizeof(id), "%s", c && *trim(c) ? trim(c) : "-");
	}
	return id;
}

/* last_reserved_ip.<i> (trimmed, "" when missing or unreadable); read from
 * disk once per lock hold for the first IPAM_STAMP_SETS sets. */
static const char *last_get(struct ipam_store *s, size_t i, char *buf, size_t len)
{
	if (!s->locked || i >= IPAM_STAMP_SETS || !s->last_cached) {
		char name[64];
		snprintf(name, sizeof(name), LAST_IP_PREFIX "%zu", i);
		_cleanup_free_ char *c = read_small(s->root_fd, name, 128, NULL);
		snprintf(buf, len, "%s", c ? trim(c) : "");
		return buf;
	}
	return s->last[i];
}

static void last_cache_fill(struct ipam_store *s)
{
	if (!s->locked || s->last_cached)
		return;
	for (size_t i = 0; i < IPAM_STAMP_SETS; i++)
		last_get(s, i, s->last[i], sizeof(s->last[i]));
	s->last_cached = true;
}

static int fingerprint(struct ipam_store *s, char *buf, size_t len, struct cni_error *err)
{
	struct stat st;
	if (fstat(s->root_fd, &st) < 0)
		return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s: cannot stat", s->path);
	size_t off = (size_t)snprintf(buf, len, STAMP_MAGIC "%s\n%llu %llu %lld.%09ld\n", boot_id(),
				      (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
				      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	/* a few more than configured: a DEL whose config lacks runtimeConfig.ipRanges
	 * sees fewer sets than the ADD did, and should not force a rebuild for it.
	 * Our own writes keep the cache current, so a commit re-reads nothing. */
	last_cache_fill(s);
	size_t n = s->n_sets > IPAM_STAMP_SETS ? s->n_sets : IPAM_STAMP_SETS;
	for (size_t i = 0; i < n && off < len; i++) {
		char tmp[64];
		const char *c = last_get(s, i, tmp, sizeof(tmp));
		off += (size_t)snprintf(buf + off, len - off, "%zu %s\n", i, *c ? c : "-");
	}
	if (off >= len)
		return cni_errorf(err, CNI_ERR_IPAM_STORE, "%s: index fingerprint too long", s->path);
	return 0;
}

/* The stamp is one file rewritten in place (no new inode per operation).
 * Its first byte is overwritten before any change ("dirty"), the whole
 * fingerprint written after it: a process killed in between leaves a stamp
 * that matches no fingerprint. */
static int stamp_open(struct ipam_store *s, struct cni_error *err)
{
	if (s->stamp_fd >= 0)
		return 0;
	for (int tries = 0; tries < 2; tries++) {
		int fd = openat(s->meta_fd, STAMP, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			s->stamp_fd = fd;
			s->stamp_size = (long)st.st_size;
			return 0;
		}
		int e = errno;
		if (fd >= 0) {
			close(fd);
			e = EINVAL;
		}
		if (e != ELOOP && e != EISDIR && e != ENXIO && e != EWOULDBLOCK && e != EINVAL)
			return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, e, "%s/" META_DIR ": cannot open the stamp", s->path);
		/* not a regular file: not ours, replace it */
		if (unlinkat(s->meta_fd, STAMP, 0) < 0 && errno != ENOENT && unlinkat(s->meta_fd, STAMP, AT_REMOVEDIR) < 0)
			return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, e, "%s/" META_DIR ": cannot open the stamp", s->path);
	}
	return cni_errorf(err, CNI_ERR_IPAM_STORE, "%s/" META_DIR ": cannot open the stamp", s->path);
}

static int stamp_dirty(struct ipam_store *s, struct cni_error *err)
{
	if (stamp_open(s, err) < 0)
		return -1;
	if (s->stamp_size <= 0)
		return 0; /* empty matches nothing */
	if (pwrite(s->stamp_fd, "!", 1, 0) != 1)
		return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s/" META_DIR ": cannot write the stamp", s->path);
	return 0;
}

static int stamp_write(struct ipam_store *s, const char *fp, size_t len, struct cni_error *err)
{
	if (stamp_open(s, err) < 0)
		return -1;
	/* a short write leaves new bytes followed by old ones: if that equals the
	 * fingerprint it is the fingerprint, else it is dirty */
	if (pwrite(s->stamp_fd, fp, len, 0) != (ssize_t)len ||
	    (s->stamp_size > (long)len && ftruncate(s->stamp_fd, (off_t)len) < 0)) {
		s->stamp_size = -1;
		return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s/" META_DIR ": cannot write the stamp", s->path);
	}
	s->stamp_size = (long)len;
	return 0;
}

/* The stamp's content, NUL-terminated ("" when unreadable). */
static void stamp_read(struct ipam_store *s, char *buf, size_t len)
{
	buf[0] = '\0';
	struct cni_error e = { 0 };
	if (stamp_open(s, &e) < 0)
		return;
	ssize_t n = pread(s->stamp_fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
}

/* ---- directory scan ---- */

struct entry {
	char *rec;          /* record name, NULL when not indexable */
	struct cni_ip ip;
};

struct scan {
	struct entry *v;
	size_t n, cap;
};

static void scan_free(struct scan *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->v[i].rec);
	free(sc->v);
	memset(sc, 0, sizeof(*sc));
}

/* Split trimmed content into (cid, ifname or NULL). */
static void split_content(char *c, const char **cid, const char **ifname)
{
	char *crlf = strstr(c, "\r\n");
	*cid = c;
	*ifname = NULL;
	if (crlf) {
		*crlf = '\0';
		*ifname = crlf + 2;
	}
}

/* A listing of the store's directory (its own descriptor), or NULL. */
static DIR *open_root(struct ipam_store *s, struct cni_error *err)
{
	int dfd = openat(s->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s: cannot open", s->path);
		return NULL;
	}
	DIR *d = fdopendir(dfd);
	if (!d) {
		cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s: cannot list", s->path);
		close(dfd);
	}
	return d;
}

/* Decide per address file whether to keep it (GC) */
typedef bool (*keep_fn)(const char *cid, const char *ifname, void *ud);

/* Walk the address files: remove those `keep` rejects, collect the rest
 * with their record names. */
static int scan_dir(struct ipam_store *s, keep_fn keep, void *ud, struct scan *out, size_t *removed,
		    struct cni_error *err)
{
	memset(out, 0, sizeof(*out));
	_cleanup_dir_ DIR *d = open_root(s, err);
	if (!d)
		return -1;
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		struct cni_ip ip;
		if (!ip_name(de->d_name, &ip))
			continue; /* lock, last_reserved_ip.*, .cni-c, foreign files */
		_cleanup_free_ char *c = read_small(s->root_fd, de->d_name, CONTENT_MAX, NULL);
		if (!c && errno == ENOENT)
			continue;
		const char *cid = "", *ifname = NULL;
		if (c)
			split_content(trim(c), &cid, &ifname);
		if (keep && !keep(cid, ifname, ud)) {
			if (unlinkat(s->root_fd, de->d_name, 0) < 0 && errno != ENOENT)
				return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s: cannot remove %s", s->path,
							de->d_name);
			if (removed)
				(*removed)++;
			continue;
		}
		char rec[256];
		if (!c || !record_name(cid, ifname, rec, sizeof(rec)))
			continue; /* unreadable or not indexable: found by scanning only */
		if (cni_grow((void **)&out->v, &out->cap, out->n, sizeof(*out->v)) < 0 ||
		    !(out->v[out->n].rec = strdup(rec)))
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		out->v[out->n++].ip = ip;
	}
	if (errno)
		return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s: cannot list", s->path);
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->rec, y->rec);
	return c ? c : cni_ip_cmp(&x->ip, &y->ip);
}

/* Remove every file of .cni-c but the stamp (records, temp debris). */
static int meta_clear(struct ipam_store *s, struct cni_error *err)
{
	int dfd = openat(s->meta_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s/" META_DIR ": cannot open", s->path);
	_cleanup_dir_ DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s/" META_DIR ": cannot list", s->path);
	}
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, STAMP) && unlinkat(s->meta_fd, de->d_name, 0) < 0 &&
		    errno != ENOENT && errno != EISDIR)
			return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s/" META_DIR ": cannot remove %s",
						s->path, de->d_name);
	return 0;
}

/* Rebuild the index from the address files (optionally dropping the
 * reservations `keep` rejects first). Leaves no stamp: commit after. */
static int rebuild(struct ipam_store *s, keep_fn keep, void *ud, size_t *removed, struct cni_error *err)
{
	if (stamp_dirty(s, err) < 0)
		return -1;
	struct scan sc;
	int r = scan_dir(s, keep, ud, &sc, removed, err);
	if (r == 0)
		r = meta_clear(s, err);
	s->spares = 0;
	if (r == 0 && sc.n) {
		qsort(sc.v, sc.n, sizeof(*sc.v), entry_cmp);
		struct iplist l = { 0 };
		for (size_t i = 0; i < sc.n && r == 0; i++) {
			if (iplist_push(&l, &sc.v[i].ip) < 0)
				r = cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			else if (i + 1 == sc.n || strcmp(sc.v[i].rec, sc.v[i + 1].rec)) {
				r = record_write(s, sc.v[i].rec, &l, false, err);
				l.n = 0;
			}
		}
		free(l.v);
	}
	scan_free(&sc);
	return r;
}

/* ---- public: open/lock ---- */

int ipam_store_open(struct ipam_store *s, const char *data_dir, const char *net, size_t n_sets,
		    struct cni_error *err)
{
	_cleanup_close_ int dfd = -1;
	memset(s, 0, sizeof(*s));
	s->root_fd = s->meta_fd = s->lock_fd = s->stamp_fd = -1;
	s->stamp_size = -1;
	s->n_sets = n_sets;
	if (!net || !*net || strchr(net, '/') || !strcmp(net, ".") || !strcmp(net, "..") || strlen(net) > 255)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid network name \"%s\" for the IPAM store",
				  net ? net : "");
	if (!data_dir || !*data_dir)
		data_dir = IPAM_DEFAULT_DATA_DIR;
	if (asprintf(&s->path, "%s/%s", data_dir, net) < 0) {
		s->path = NULL;
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	/* open first, create only what is missing (an ADD on an existing
	 * network makes no mkdir call) */
	dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT) {
		int r = cni_mkdir_p(data_dir, 0755);
		if (r < 0) {
			cni_errorf_errno(err, CNI_ERR_IPAM_STORE, -r, "cannot create data directory %s", data_dir);
			goto fail;
		}
		dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dfd < 0) {
		cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "cannot open data directory %s", data_dir);
		goto fail;
	}
	s->root_fd = openat(dfd, net, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->root_fd < 0 && errno == ENOENT) {
		if (mkdirat(dfd, net, 0755) < 0 && errno != EEXIST) {
			cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "cannot create %s", s->path);
			goto fail;
		}
		s->root_fd = openat(dfd, net, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (s->root_fd < 0) {
		cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "cannot open %s (it must be a directory, not a symlink)",
				 s->path);
		goto fail;
	}
	s->meta_fd = openat(s->root_fd, META_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->meta_fd < 0 && errno == ENOENT) {
		if (mkdirat(s->root_fd, META_DIR, 0755) < 0 && errno != EEXIST) {
			cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "cannot create %s/" META_DIR, s->path);
			goto fail;
		}
		s->meta_fd = openat(s->root_fd, META_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (s->meta_fd < 0) {
		cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "cannot open %s/" META_DIR, s->path);
		goto fail;
	}
	s->lock_fd = openat(s->root_fd, LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (s->lock_fd < 0) {
		cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "cannot open %s/" LOCK_FILE, s->path);
		goto fail;
	}
	return 0;
fail:
	ipam_store_close(s);
	return -1;
}

void ipam_store_close(struct ipam_store *s)
{
	if (s->locked)
		ipam_store_unlock(s);
	if (s->root_fd >= 0)
		close(s->root_fd);
	if (s->meta_fd >= 0)
		close(s->meta_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->stamp_fd >= 0)
		close(s->stamp_fd);
	free(s->path);
	s->path = NULL;
	s->root_fd = s->meta_fd = s->lock_fd = s->stamp_fd = -1;
}

int ipam_store_lock(struct ipam_store *s, struct cni_error *err)
{
	while (flock(s->lock_fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "cannot lock %s/" LOCK_FILE, s->path);
	s->locked = true;
	s->index_ok = false;
	s->last_cached = false;
	return 0;
}

void ipam_store_unlock(struct ipam_store *s)
{
	flock(s->lock_fd, LOCK_UN);
	s->locked = false;
	s->index_ok = false;
	s->last_cached = false;
	/* the stamp fd is only good under the lock that opened it: another
	 * writer (an older version of this suite) may replace the file */
	if (s->stamp_fd >= 0)
		close(s->stamp_fd);
	s->stamp_fd = -1;
	s->stamp_size = -1;
}

/* ---- public: index ---- */

int ipam_store_index_prepare(struct ipam_store *s, bool will_modify, struct cni_error *err)
{
	if (!s->index_ok) {
		char now[STAMP_MAX], st[STAMP_MAX + 1];
		if (fingerprint(s, now, sizeof(now), err) < 0)
			return -1;
		stamp_read(s, st, sizeof(st));
		size_t nl = strlen(now);
		unsigned k;
		char tail[2];
		if (strncmp(st, now, nl) || sscanf(st + nl, "spares %u%1[\n]", &k, tail) != 2 || k > SPARE_MAX ||
		    strlen(st + nl) != (size_t)snprintf(tail, 0, "spares %u\n", k)) {
			s->spares = 0;
			if (rebuild(s, NULL, NULL, NULL, err) < 0)
				return -1;
			if (!will_modify)
				return ipam_store_index_commit(s, err);
		} else {
			s->spares = k;
		}
		s->index_ok = true;
	}
	/* a crash from here on must leave no stamp behind */
	if (will_modify && stamp_dirty(s, err) < 0)
		return -1;
	return 0;
}

int ipam_store_index_commit(struct ipam_store *s, struct cni_error *err)
{
	char now[STAMP_MAX + 32];
	if (fingerprint(s, now, STAMP_MAX, err) < 0)
		return -1;
	/* s->spares is right after a rebuild (0) or a verified stamp */
	size_t nl = strlen(now);
	snprintf(now + nl, sizeof(now) - nl, "spares %u\n", s->spares);
	if (stamp_write(s, now, strlen(now), err) < 0)
		return -1;
	s->index_ok = true;
	return 0;
}

/* ---- public: operations (lock held, index prepared) ---- */

int ipam_store_is_reserved(struct ipam_store *s, const struct cni_ip *ip, bool *reserved, struct cni_error *err)
{
	char name[CNI_IP_STRLEN];
	struct stat st;
	if (fstatat(s->root_fd, cni_ip_fmt(ip, name), &st, AT_SYMLINK_NOFOLLOW) == 0) {
		*reserved = true;
		return 0;
	}
	if (errno != ENOENT)
		return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s: cannot stat %s", s->path, name);
	*reserved = false;
	return 0;
}

int ipam_store_reserve(struct ipam_store *s, const char *cid, const char *ifname, const struct cni_ip *ip,
		       int set_idx, bool *reserved, struct cni_error *err)
{
	char name[CNI_IP_STRLEN], tmp[64];
	*reserved = false;
	cni_ip_fmt(ip, name);
	/* cheap pre-check: a taken address costs one stat, no temp file */
	if (ipam_store_is_reserved(s, ip, reserved, err) < 0)
		return -1;
	if (*reserved) {
		*reserved = false;
		return 0;
	}
	_cleanup_free_ char *content = NULL;
	if (asprintf(&content, "%s\r\n%s", cid, ifname) < 0) {
		content = NULL;
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	char rec[256];
	bool indexed = record_name(cid, ifname, rec, sizeof(rec));
	/* the file is complete before it gets the address's name: a spare
	 * rewritten in place, or a fresh temp file (no fsync: see the top) */
	size_t clen = strlen(content);
	off_t ssize = 0;
	int fd = spare_open(s, tmp, sizeof(tmp), &ssize);
	if (fd >= 0) {
		/* a spare of the same size (a released address file) needs no truncation */
		if (pwrite(fd, content, clen, 0) != (ssize_t)clen || (ssize > (off_t)clen && ftruncate(fd, (off_t)clen) < 0)) {
			int e = errno;
			close(fd);
			return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, e, "%s/" META_DIR ": cannot write %s", s->path, tmp);
		}
	} else if (make_temp(s, content, clen, tmp, sizeof(tmp), err) < 0) {
		return -1;
	}
	int r = place(s, tmp, s->root_fd, name);
	int e = errno;
	if (r == 0 && fd >= 0) {
		s->spares--;
	} else if (r < 0 && fd >= 0 && e == EEXIST) {
		/* taken: the spare stays a spare */
		if (!spare_neutralize(fd, ssize > (off_t)clen ? ssize : (off_t)clen)) {
			unlinkat(s->meta_fd, tmp, 0);
			s->spares--;
		}
	} else if (r < 0) {
		unlinkat(s->meta_fd, tmp, 0);
		if (fd >= 0)
			s->spares--;
	}
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		if (e == EEXIST)
			return 0;
		return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, e, "%s: cannot reserve %s", s->path, name);
	}
	*reserved = true;
	if (indexed && record_add(s, rec, ip, err) < 0)
		return -1;
	/* a hint (where the round robin starts): written in place like the
	 * reference does; a torn one only moves the start (see README) */
	char last[64];
	snprintf(last, sizeof(last), LAST_IP_PREFIX "%d", set_idx);
	bool cached = s->last_cached && set_idx >= 0 && set_idx < IPAM_STAMP_SETS;
	r = write_in_place(s, s->root_fd, last, name, strlen(name), -1, false, err);
	if (cached) {
		if (r == 0)
			snprintf(s->last[set_idx], sizeof(s->last[set_idx]), "%s", name);
		else
			s->last_cached = false;
	}
	return r;
}

int ipam_store_last_reserved(struct ipam_store *s, int set_idx, struct cni_ip *out)
{
	char buf[64];
	memset(out, 0, sizeof(*out));
	/* empty, torn or foreign content: no hint, start at the range's start */
	const char *c = set_idx >= 0 ? last_get(s, (size_t)set_idx, buf, sizeof(buf)) : "";
	if (*c && cni_ip_parse(c, out) < 0)
		memset(out, 0, sizeof(*out));
	ipam_ip_canon(out);
	return 0;
}

/* Fallback for names that cannot be a record: read every address file. */
static int scan_find(struct ipam_store *s, const char *cid, const char *ifname, struct iplist *out,
		     struct cni_error *err)
{
	memset(out, 0, sizeof(*out));
	_cleanup_dir_ DIR *d = open_root(s, err);
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct cni_ip ip;
		if (!ip_name(de->d_name, &ip))
			continue;
		_cleanup_free_ char *c = read_small(s->root_fd, de->d_name, CONTENT_MAX, NULL);
		if (c && content_matches(trim(c), cid, ifname) && iplist_push(out, &ip) < 0)
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	}
	return 0;
}

/* Verified addresses of one attachment key (ifname NULL = legacy). */
static int held(struct ipam_store *s, const char *cid, const char *ifname, struct iplist *out, bool *indexed,
		char rec[256], struct cni_error *err)
{
	*indexed = record_name(cid, ifname, rec, 256);
	if (!*indexed)
		return scan_find(s, cid, ifname, out, err);
	if (record_read(s, rec, out, NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < out->n;)
		if (file_held_by(s, &out->v[i], cid, ifname))
			i++;
		else
			out->v[i] = out->v[--out->n];
	return 0;
}

int ipam_store_find(struct ipam_store *s, const char *cid, const char *ifname, bool legacy,
		    struct cni_ip **out, size_t *n, struct cni_error *err)
{
	*out = NULL;
	*n = 0;
	if (ipam_store_index_prepare(s, false, err) < 0)
		return -1;
	struct iplist a = { 0 }, b = { 0 };
	bool indexed;
	char rec[256];
	if (held(s, cid, ifname, &a, &indexed, rec, err) < 0)
		return -1;
	if (legacy && held(s, cid, NULL, &b, &indexed, rec, err) < 0) {
		free(a.v);
		return -1;
	}
	for (size_t i = 0; i < b.n; i++)
		if (iplist_push(&a, &b.v[i]) < 0) {
			free(a.v);
			free(b.v);
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		}
	free(b.v);
	*out = a.v;
	*n = a.n;
	return 0;
}

static int release_key(struct ipam_store *s, const char *cid, const char *ifname, size_t *released,
		       struct cni_error *err)
{
	struct iplist l;
	bool indexed;
	char rec[256];
	if (held(s, cid, ifname, &l, &indexed, rec, err) < 0)
		return -1;
	/* the record goes to the spares first: the next ADD takes the last
	 * spare (an address file, of the size its content will have) for its
	 * reservation and the one below it for its record */
	int r = 0;
	if (indexed) {
		struct iplist none = { 0 };
		r = record_write(s, rec, &none, false, err);
	}
	for (size_t i = 0; i < l.n; i++) {
		char name[CNI_IP_STRLEN];
		if (spare_put(s, s->root_fd, cni_ip_fmt(&l.v[i], name)) < 0 && errno != ENOENT) {
			r = cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s: cannot release %s", s->path, name);
			continue;
		}
		(*released)++;
	}
	free(l.v);
	return r;
}

int ipam_store_release(struct ipam_store *s, const char *cid, const char *ifname, size_t *released,
		       struct cni_error *err)
{
	size_t n = 0;
	if (ipam_store_index_prepare(s, true, err) < 0)
		return -1;
	int r = release_key(s, cid, ifname, &n, err);
	if (r == 0 && n == 0)
		r = release_key(s, cid, NULL, &n, err);
	if (released)
		*released = n;
	if (r < 0)
		return -1;
	return ipam_store_index_commit(s, err);
}

int ipam_store_release_ip(struct ipam_store *s, const char *cid, const char *ifname, const struct cni_ip *ip,
			  struct cni_error *err)
{
	char name[CNI_IP_STRLEN], rec[256];
	if (!file_held_by(s, ip, cid, ifname))
		return 0;
	if (unlinkat(s->root_fd, cni_ip_fmt(ip, name), 0) < 0 && errno != ENOENT)
		return cni_errorf_errno(err, CNI_ERR_IPAM_STORE, errno, "%s: cannot release %s", s->path, name);
	if (!record_name(cid, ifname, rec, sizeof(rec)))
		return 0;
	struct iplist l;
	if (record_read(s, rec, &l, NULL, err) < 0)
		return -1;
	iplist_remove(&l, ip);
	int r = record_write(s, rec, &l, false, err);
	free(l.v);
	return r;
}

struct gc_ctx {
	const struct cni_attachment *valid;
	size_t n;
};

static bool gc_keep(const char *cid, const char *ifname, void *ud)
{
	const struct gc_ctx *g = ud;
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(g->valid[i].container_id, cid) && (!ifname || !strcmp(g->valid[i].ifname, ifname)))
			return true;
	return false;
}

int ipam_store_gc(struct ipam_store *s, const struct cni_attachment *valid, size_t n_valid, size_t *released,
		  struct cni_error *err)
{
	struct gc_ctx g = { valid, n_valid };
	size_t n = 0;
	int r = rebuild(s, gc_keep, &g, &n, err);
	if (released)
		*released = n;
	if (r < 0)
		return -1;
	return ipam_store_index_commit(s, err);
}

int ipam_store_probe_writable(struct ipam_store *s, struct cni_error *err)
{
	char tmp[64];
	if (make_temp(s, "probe", 5, tmp, sizeof(tmp), err) < 0)
		return -1;
	unlinkat(s->meta_fd, tmp, 0);
	return 0;
}
