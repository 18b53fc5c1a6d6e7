/* jansson helpers with Go encoding/json lookup and type rules. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cni/json.h"

json_t *cj_get(const json_t *obj, const char *key)
{
	if (!obj || !json_is_object(obj))
		return NULL;
	json_t *v = json_object_get(obj, key);
	if (!v) {
		const char *k;
		json_t *it;
		json_object_foreach((json_t *)obj, k, it) {
			if (strcasecmp(k, key) == 0) {
				v = it;
				break;
			}
		}
	}
	if (v && json_is_null(v))
		return NULL;
	return v;
}

const char *cj_repr(const json_t *v, char *buf, size_t len)
{
	char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	snprintf(buf, len, "%s", s ? s : "null");
	if (s && strlen(s) >= len && len > 4)
		strcpy(buf + len - 4, "...");
	free(s);
	return buf;
}

static int type_error(const char *key, const json_t *v, const char *want, struct cni_error *err)
{
	char r[96];
	return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid value for \"%s\": %s (expected %s)", key,
			  cj_repr(v, r, sizeof(r)), want);
}

int cj_bool(const json_t *obj, const char *key, bool *out, struct cni_error *err)
{
	json_t *v = cj_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return type_error(key, v, "a boolean", err);
	*out = json_is_true(v);
	return 0;
}

int cj_int(const json_t *obj, const char *key, long long *out, struct cni_error *err)
{
	json_t *v = cj_get(obj, key);
	if (!v)
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (d == (double)(long long)d) {
			*out = (long long)d;
			return 0;
		}
	}
	return type_error(key, v, "an integer", err);
}

int cj_int_range(const json_t *obj, const char *key, long long lo, long long hi, long long *out,
		 struct cni_error *err)
{
	long long x = *out;
	if (cj_int(obj, key, &x, err) < 0)
		return -1;
	if (cj_get(obj, key) && (x < lo || x > hi))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid value for \"%s\": %lld (must be between %lld and %lld)",
				  key, x, lo, hi);
	*out = x;
	return 0;
}

int cj_str(const json_t *obj, const char *key, const char **out, struct cni_error *err)
{
	json_t *v = cj_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_string(v))
		return type_error(key, v, "a string", err);
	*out = json_string_value(v);
	return 0;
}

int cj_ip(const json_t *obj, const char *key, struct cni_ip *out, struct cni_error *err)
{
	const char *s = NULL;
	if (cj_str(obj, key, &s, err) < 0)
		return -1;
	if (!s || !*s)
		return 0;
	if (cni_ip_parse(s, out) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid IP address for \"%s\": \"%s\"", key, s);
	return 0;
}

int cj_cidr(const json_t *obj, const char *key, struct cni_cidr *out, struct cni_error *err)
{
	const char *s = NULL;
	if (cj_str(obj, key, &s, err) < 0)
		return -1;
	if (!s)
		return 0;
	if (cni_cidr_parse(s, out) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid CIDR for \"%s\": \"%s\"", key, s);
	return 0;
}

int cj_object(const json_t *obj, const char *key, json_t **out, struct cni_error *err)
{
	json_t *v = cj_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_object(v))
		return type_error(key, v, "an object", err);
	*out = v;
	return 0;
}

int cj_array(const json_t *obj, const char *key, json_t **out, struct cni_error *err)
{
	json_t *v = cj_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_array(v))
		return type_error(key, v, "an array", err);
	*out = v;
	return 0;
}

char *cj_dump(const json_t *v, size_t flags)
{
	return json_dumps(v, flags | JSON_ENCODE_ANY);
}
