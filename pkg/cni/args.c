/* CNI_ARGS parsing and the spec's validation of names from the environment. */
#include <ctype.h>
#include <string.h>

#include "cni/json.h"
#include "cni/plugin.h"

void cni_args_free(struct cni_arg *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].key);
		free(a[i].value);
	}
	free(a);
}

int cni_args_parse(const char *s, struct cni_arg **out, size_t *n, struct cni_error *err)
{
	*out = NULL;
	*n = 0;
	if (!s || !*s)
		return 0;
	size_t cap = 0;
	const char *p = s;
	for (;;) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (!eq || memchr(eq + 1, '=', len - (size_t)(eq - p) - 1)) {
			cni_errorf(err, CNI_ERR_INVALID_ENV, "CNI_ARGS: invalid pair \"%.*s\"", (int)len, p);
			goto fail;
		}
		if (cni_grow((void **)out, &cap, *n, sizeof(**out)) < 0) {
			cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			goto fail;
		}
		struct cni_arg *a = &(*out)[*n];
		a->key = strndup(p, (size_t)(eq - p));
		a->value = strndup(eq + 1, len - (size_t)(eq - p) - 1);
		(*n)++;
		if (!a->key || !a->value) {
			cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
			goto fail;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
fail:
	cni_args_free(*out, *n);
	*out = NULL;
	*n = 0;
	return -1;
}

/* ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$ */
static bool valid_id(const char *s)
{
	if (!s || !isalnum((unsigned char)s[0]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return false;
	return true;
}

int cni_validate_container_id(const char *id, struct cni_error *err)
{
	if (!id || !*id)
		return cni_errorf(err, CNI_ERR_INVALID_ENV, "required env variables [CNI_CONTAINERID] missing");
	if (!valid_id(id))
		return cni_errorf(err, CNI_ERR_INVALID_ENV, "invalid characters in CNI_CONTAINERID \"%s\"", id);
	return 0;
}

int cni_validate_net_name(const char *name, struct cni_error *err)
{
	if (!name || !*name)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "missing network name");
	if (!valid_id(name))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid characters found in network name \"%s\"", name);
	return 0;
}

int cni_validate_ifname(const char *name, struct cni_error *err)
{
	if (!name || !*name)
		return cni_errorf(err, CNI_ERR_INVALID_ENV, "required env variables [CNI_IFNAME] missing");
	if (strlen(name) > 15)
		return cni_errorf(err, CNI_ERR_INVALID_ENV, "CNI_IFNAME \"%s\": interface name is too long (max 15 bytes)",
				  name);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return cni_errorf(err, CNI_ERR_INVALID_ENV, "CNI_IFNAME \"%s\": interface name is . or ..", name);
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
			return cni_errorf(err, CNI_ERR_INVALID_ENV,
					  "CNI_IFNAME \"%s\": interface name contains an invalid character '%c'", name,
					  *p == '/' || *p == ':' ? *p : ' ');
	return 0;
}

void cni_attachments_free(struct cni_attachment *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].container_id);
		free(a[i].ifname);
	}
	free(a);
}

bool cni_attachment_valid(const struct cni_attachment *list, size_t n, const char *cid, const char *ifname)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i].container_id, cid) && !strcmp(list[i].ifname, ifname))
			return true;
	return false;
}

int cni_gc_valid_attachments(const json_t *conf, struct cni_attachment **out, size_t *n, bool *present,
			     struct cni_error *err)
{
	*out = NULL;
	*n = 0;
	*present = false;
	const char *key = "cni.dev/valid-attachments";
	json_t *a = cj_get(conf, key);
	if (!a) {
		key = "cni.dev/attachments";
		a = cj_get(conf, key);
	}
	if (!a)
		return 0;
	if (!json_is_array(a))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "\"%s\" must be an array", key);
	*present = true;
	size_t len = json_array_size(a);
	*out = cni_xcalloc(len, sizeof(**out));
	if (!*out)
		return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < len; i++) {
		json_t *o = json_array_get(a, i);
		const char *cid = json_string_value(cj_get(o, "containerID"));
		const char *ifn = json_string_value(cj_get(o, "ifname"));
		if (!cid || !ifn) {
			cni_attachments_free(*out, *n);
			*out = NULL;
			*n = 0;
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
					  "\"%s\"[%zu]: each entry needs string \"containerID\" and \"ifname\"", key, i);
		}
		(*out)[i].container_id = strdup(cid);
		(*out)[i].ifname = strdup(ifn);
		(*n)++;
		if (!(*out)[i].container_id || !(*out)[i].ifname) {
			cni_attachments_free(*out, *n);
			*out = NULL;
			*n = 0;
			return cni_errorf(err, CNI_ERR_INTERNAL, "out of memory");
		}
	}
	return 0;
}
