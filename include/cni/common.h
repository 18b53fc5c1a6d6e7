/* Shared basics: error object, error codes, cleanup helpers.
 *
 * Library functions return 0 on success and -1 on failure; on failure they
 * fill a struct cni_error that the plugin main turns into the CNI error JSON.
 * Library code never prints and never exits. */
#ifndef CNI_COMMON_H
#define CNI_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* Well-known codes of the CNI spec (0-99 reserved). */
enum {
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_INVALID_NETNS = 8, /* Go library's code, kept for parity */
	CNI_ERR_TRY_AGAIN = 11,
	CNI_ERR_NOT_AVAILABLE = 50,
	CNI_ERR_LIMITED_CONNECTIVITY = 51,
};

/* Plugin-specific codes of this suite (>= 100). Each names a failure class
 * so a runtime can tell them apart without parsing messages. */
enum {
	CNI_ERR_DELEGATE = 100,        /* a delegated plugin could not be run or failed oddly */
	CNI_ERR_NETNS = 101,           /* entering/using a network namespace failed */
	CNI_ERR_NETLINK = 102,         /* a kernel link/address/route/sysctl operation failed */
	CNI_ERR_NFTABLES = 103,        /* an nftables transaction failed */
	CNI_ERR_IPAM_EXHAUSTED = 104,  /* no free address in a range set */
	CNI_ERR_IPAM_STORE = 105,      /* the allocation store could not be read/written */
	CNI_ERR_EXISTS = 106,          /* object already exists (interface, reservation) */
	CNI_ERR_CHECK_FAILED = 107,    /* CHECK found state that differs from prevResult */
	CNI_ERR_KERNEL_FEATURE = 108,  /* the running kernel lacks a needed feature */
	CNI_ERR_CONFLICT = 109,        /* a resource is owned by another attachment */
	CNI_ERR_NOT_FOUND = 110,       /* a named object (master, device) does not exist */
	CNI_ERR_INTERNAL = 999,        /* anything else (the reference's catch-all) */
};

#define CNI_ERR_MSG_MAX 512
#define CNI_ERR_DETAILS_MAX 1024

struct cni_error {
	unsigned code;
	char msg[CNI_ERR_MSG_MAX];
	char details[CNI_ERR_DETAILS_MAX];
};

/* Fill *e (if not NULL) and return -1, so callers can write
 * `return cni_errorf(err, CNI_ERR_..., "...", ...);` */
int cni_errorf(struct cni_error *e, unsigned code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cni_verrorf(struct cni_error *e, unsigned code, const char *fmt, va_list ap);
/* Same, with errno text appended as ": <strerror>". */
int cni_errorf_errno(struct cni_error *e, unsigned code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prefix an existing message: "<prefix>: <old msg>". Returns -1. */
int cni_error_wrap(struct cni_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cni_error_set_details(struct cni_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cni_error_clear(struct cni_error *e);

/* Cleanup helpers. */
static inline void cni_freep(void *p) { free(*(void **)p); }
static inline void cni_closep(int *fd) { if (*fd >= 0) close(*fd); }
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(cni_freep)
#define _cleanup_close_ _cleanup_(cni_closep)

/* Take ownership out of a cleanup variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })
#define TAKE_FD(fd) ({ int _t = (fd); (fd) = -1; _t; })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that reports failure through err; NULL on OOM. */
void *cni_xcalloc(size_t n, size_t sz);
char *cni_strdup(const char *s); /* NULL-safe: returns NULL for NULL */

/* Growable array helper: ensure capacity for n+1 elements. 0 or -1. */
int cni_grow(void **arr, size_t *cap, size_t n, size_t elem);

/* State files (pkg/cni/file.c). cni_file_replace: path gets data or keeps
 * its old content, never a partial one; a crash leaves at most
 * "<path>.tmp", which cni_file_remove (path and that) deletes too.
 * 0 or -errno. */
int cni_file_replace(const char *path, const void *data, size_t len, bool sync, mode_t mode);
int cni_file_remove(const char *path);
/* mkdir -p: every missing component with mode; 0 or -errno (errno set) */
int cni_mkdir_p(const char *path, mode_t mode);
int cni_file_tmp_name(char *out, size_t len, const char *path); /* "<path>.tmp"; 0 or -ENAMETOOLONG */
bool cni_file_is_tmp(const char *name); /* ends in ".tmp" */

/* Allowlist patterns in RE2 syntax (pkg/cni/regex.c: the subset it takes
 * is listed there; anything else fails to compile, *why saying what). */
struct cni_regex;
struct cni_regex *cni_regex_compile(const char *pattern, const char **why);
/* unanchored, as Go's MatchString */
bool cni_regex_search(const struct cni_regex *re, const char *s);
void cni_regex_free(struct cni_regex *re);

#endif
