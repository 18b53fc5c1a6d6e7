/* Error object filling and small allocation helpers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cni/common.h"

int cni_verrorf(struct cni_error *e, unsigned code, const char *fmt, va_list ap)
{
	if (!e)
		return -1;
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	e->details[0] = '\0';
	return -1;
}

int cni_errorf(struct cni_error *e, unsigned code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cni_verrorf(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

int cni_errorf_errno(struct cni_error *e, unsigned code, int errnum, const char *fmt, ...)
{
	va_list ap;
	if (!e)
		return -1;
	va_start(ap, fmt);
	cni_verrorf(e, code, fmt, ap);
	va_end(ap);
	size_t l = strlen(e->msg);
	if (l < sizeof(e->msg))
		snprintf(e->msg + l, sizeof(e->msg) - l, ": %s", strerror(errnum));
	return -1;
}

int cni_error_wrap(struct cni_error *e, const char *fmt, ...)
{
	char prefix[CNI_ERR_MSG_MAX], old[CNI_ERR_MSG_MAX];
	va_list ap;
	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old);
	if (!e->code)
		e->code = CNI_ERR_INTERNAL;
	return -1;
}

void cni_error_set_details(struct cni_error *e, const char *fmt, ...)
{
	va_list ap;
	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(e->details, sizeof(e->details), fmt, ap);
	va_end(ap);
}

void cni_error_clear(struct cni_error *e)
{
	if (e)
		memset(e, 0, sizeof(*e));
}

void *cni_xcalloc(size_t n, size_t sz)
{
	return calloc(n ? n : 1, sz ? sz : 1);
}

char *cni_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

int cni_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 4;
	void *p = realloc(*arr, ncap * elem);
	if (!p)
		return -1;
	memset((char *)p + *cap * elem, 0, (ncap - *cap) * elem);
	*arr = p;
	*cap = ncap;
	return 0;
}
