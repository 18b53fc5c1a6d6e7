/* Small helpers of the runtime side: base64, CNI_ARGS / CAP_ARGS parsing
 * as cnitool does it, absolute netns paths, container ids, Go-like key
 * ordering of JSON objects. */
#include <stdio.h>
#include <string.h>

#include "cni/json.h"
#include "cni/runtime.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *cni_base64_encode(const void *data, size_t len)
{
	const uint8_t *p = data;
	char *out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	char *o = out;
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

void *cni_base64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s);
	if (n % 4)
		return NULL;
	uint8_t *out = malloc(n / 4 * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;
		for (int j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad || (v[j] = b64_val(s[i + j])) < 0) {
				free(out);
				return NULL;
			}
		}
		uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		out[o++] = (uint8_t)(x >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(x >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)x;
	}
	out[o] = 0;
	*len = o;
	return out;
}

int cni_rt_parse_cni_args(const char *s, struct cni_arg **out, size_t *n, struct cni_error *err)
{
	/* the plugins' parser (one '=' per pair), then cnitool's extra rule:
	 * neither key nor value may be empty; its message names the pair */
	struct cni_error e = { 0 };
	if (cni_args_parse(s, out, n, &e) < 0) {
		const char *pair = strchr(e.msg, '"');
		if (e.code != CNI_ERR_INVALID_ENV || !pair) {
			*err = e;
			return -1;
		}
		return cni_errorf(err, CNI_ERR_INVALID_ENV, "invalid CNI_ARGS pair %s", pair);
	}
	for (size_t i = 0; i < *n; i++) {
		if (*(*out)[i].key && *(*out)[i].value)
			continue;
		cni_errorf(err, CNI_ERR_INVALID_ENV, "invalid CNI_ARGS pair \"%s=%s\"", (*out)[i].key, (*out)[i].value);
		cni_args_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

int cni_rt_parse_cap_args(const char *s, json_t **out, struct cni_error *err)
{
	*out = NULL;
	if (!s || !*s)
		return 0;
	json_error_t je;
	json_t *j = json_loads(s, JSON_DECODE_ANY, &je);
	if (!j)
		return cni_errorf(err, CNI_ERR_DECODE, "invalid CAP_ARGS: %s", je.text);
	if (json_is_null(j)) {
		json_decref(j);
		return 0;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return cni_errorf(err, CNI_ERR_DECODE, "invalid CAP_ARGS: must be a JSON object");
	}
	*out = j;
	return 0;
}

/* Go's filepath.Clean on an absolute path. */
static void clean_abs(char *p)
{
	char *out = p;
	const char *r = p;
	/* p[0] == '/' */
	*out++ = '/';
	r++;
	while (*r) {
		if (*r == '/') {
			r++;
		} else if (r[0] == '.' && (r[1] == '/' || !r[1])) {
			r++;
		} else if (r[0] == '.' && r[1] == '.' && (r[2] == '/' || !r[2])) {
			r += 2;
			if (out > p + 1) {
				out--; /* drop the trailing '/' */
				while (out > p + 1 && out[-1] != '/')
					out--;
			}
		} else {
			if (out > p + 1 && out[-1] != '/')
				*out++ = '/';
			while (*r && *r != '/')
				*out++ = *r++;
		}
	}
	if (out > p + 1 && out[-1] == '/')
		out--;
	*out = '\0';
}

char *cni_rt_abs_path(const char *p)
{
	char *s = NULL;
	if (p[0] == '/') {
		s = strdup(p);
	} else {
		char *cwd = getcwd(NULL, 0);
		if (!cwd)
			return NULL;
		if (asprintf(&s, "%s/%s", cwd, p) < 0)
			s = NULL;
		free(cwd);
	}
	if (s)
		clean_abs(s);
	return s;
}

void cni_rt_container_id(const char *netns_abs, char out[8 + 20 + 1])
{
	uint8_t h[CNI_SHA512_LEN];
	cni_sha512(netns_abs, strlen(netns_abs), h);
	memcpy(out, "cnitool-", 8);
	for (int i = 0; i < 10; i++)
		snprintf(out + 8 + 2 * i, 3, "%02x", h[i]);
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *cni_json_sorted_copy(const json_t *v, const char *keep)
{
	if (json_is_array(v)) {
		json_t *a = json_array();
		size_t i;
		json_t *it;
		json_array_foreach(v, i, it) {
			if (!a || json_array_append_new(a, cni_json_sorted_copy(it, NULL)) < 0) {
				json_decref(a);
				return NULL;
			}
		}
		return a;
	}
	if (!json_is_object(v))
		return json_deep_copy(v);
	size_t n = json_object_size(v), i = 0;
	const char **keys = cni_xcalloc(n ? n : 1, sizeof(char *));
	json_t *o = json_object();
	if (!keys || !o)
		goto fail;
	const char *k;
	json_t *it;
	json_object_foreach((json_t *)v, k, it) keys[i++] = k;
	qsort(keys, n, sizeof(char *), key_cmp);
	for (i = 0; i < n; i++) {
		json_t *x = json_object_get(v, keys[i]);
		json_t *c = keep && !strcmp(keys[i], keep) ? json_deep_copy(x) : cni_json_sorted_copy(x, NULL);
		if (!c || json_object_set_new(o, keys[i], c) < 0)
			goto fail;
	}
	free(keys);
	return o;
fail:
	free(keys);
	json_decref(o);
	return NULL;
}
