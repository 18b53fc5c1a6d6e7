/* resolv.conf into a CNI dns object, with the reference's reading rules:
 * "nameserver X" and "domain X" take the first word, "search" and
 * "options" take every word, lines starting with '#' or ';' are comments,
 * a repeated domain replaces the earlier one. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "cni/ipam.h"

#define RESOLV_MAX (1u << 20)

static int push(char ***v, size_t *n, const char *w, size_t len)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(char *));
	if (!nv)
		return -1;
	*v = nv;
	if (!(nv[*n] = strndup(w, len)))
		return -1;
	(*n)++;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Split one line into at most `max` words (pointer + length). */
static size_t words(const char *p, const char *end, const char **w, size_t *wl, size_t max)
{
	size_t n = 0;
	while (p < end && n < max) {
		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		const char *s = p;
		while (p < end && !is_space(*p))
			p++;
		w[n] = s;
		wl[n] = (size_t)(p - s);
		n++;
	}
	return n;
}

int ipam_resolv_conf_parse_buf(const char *buf, size_t len, struct cni_dns *out, struct cni_error *err)
{
	memset(out, 0, sizeof(*out));
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *w[64];
		size_t wl[64];
		size_t n = words(p, le, w, wl, ARRAY_SIZE(w));
		p = nl ? nl + 1 : end;
		if (n < 2 || w[0][0] == '#' || w[0][0] == ';')
			continue;
		int r = 0;
		if (wl[0] == 10 && !memcmp(w[0], "nameserver", 10)) {
			r = push(&out->nameservers, &out->n_nameservers, w[1], wl[1]);
		} else if (wl[0] == 6 && !memcmp(w[0], "domain", 6)) {
			free(out->domain);
			r = (out->domain = strndup(w[1], wl[1])) ? 0 : -1;
		} else if (wl[0] == 6 && !memcmp(w[0], "search", 6)) {
			for (size_t i = 1; i < n && !r; i++)
				r = push(&out->search, &out->n_search, w[i], wl[i]);
		} else if (wl[0] == 7 && !memcmp(w[0], "options", 7)) {
			for (size_t i = 1; i < n && !r; i++)
				r = push(&out->options, &out->n_options, w[i], wl[i]);
		}
		if (r < 0) {
			cni_dns_free(out);
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		}
	}
	return 0;
}

int ipam_resolv_conf_parse(const char *path, struct cni_dns *out, struct cni_error *err)
{
	memset(out, 0, sizeof(*out));
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cni_errorf_errno(err, CNI_ERR_IO, errno, "resolvConf: cannot open %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cni_errorf_errno(err, CNI_ERR_IO, errno, "resolvConf: cannot stat %s", path);
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > RESOLV_MAX)
		return cni_errorf(err, CNI_ERR_IO, "resolvConf: %s is not a regular file of at most %u bytes", path,
				  RESOLV_MAX);
	_cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cni_errorf_errno(err, CNI_ERR_IO, errno, "resolvConf: cannot read %s", path);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return ipam_resolv_conf_parse_buf(buf, got, out, err);
}
