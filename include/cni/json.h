/* JSON access helpers over jansson with Go encoding/json semantics:
 * object keys match case-insensitively (exact match preferred), a JSON null
 * leaves the default, a type mismatch is an error naming the key. */
#ifndef CNI_JSON_H
#define CNI_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "cni/common.h"
#include "cni/ip.h"

static inline void cni_json_decrefp(json_t **j) { if (*j) json_decref(*j); }
#define _cleanup_json_ _cleanup_(cni_json_decrefp)

/* Lookup with Go semantics; NULL when absent or JSON null. */
json_t *cj_get(const json_t *obj, const char *key);

/* Typed getters. Each returns 0 when the key is absent/null (out keeps its
 * value, so initialise it with the default), 0 after storing a value, or -1
 * with err filled (code 7, message naming `what`.`key` and the bad value). */
int cj_bool(const json_t *obj, const char *key, bool *out, struct cni_error *err);
int cj_int(const json_t *obj, const char *key, long long *out, struct cni_error *err);
int cj_int_range(const json_t *obj, const char *key, long long lo, long long hi, long long *out,
		 struct cni_error *err);
/* Borrowed string (valid as long as obj lives). */
int cj_str(const json_t *obj, const char *key, const char **out, struct cni_error *err);
int cj_ip(const json_t *obj, const char *key, struct cni_ip *out, struct cni_error *err);
int cj_cidr(const json_t *obj, const char *key, struct cni_cidr *out, struct cni_error *err);
int cj_object(const json_t *obj, const char *key, json_t **out, struct cni_error *err);
int cj_array(const json_t *obj, const char *key, json_t **out, struct cni_error *err);

/* A short printable form of a JSON value for error messages (static buffer per call site). */
const char *cj_repr(const json_t *v, char *buf, size_t len);

/* Dump a value to a malloc'd string; flags as json_dumps. */
char *cj_dump(const json_t *v, size_t flags);

#endif
