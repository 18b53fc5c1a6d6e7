/* host-local: allocate addresses from range sets, one per set, remembered
 * in files under <dataDir>/<network name>/ (the reference's format).
 *
 * ADD reserves round-robin from last_reserved_ip.N + 1 (or the requested
 * addresses of CNI_ARGS IP=, args.cni.ips, runtimeConfig.ips) and returns
 * them with the range's gateway, the configured routes and the dns of
 * resolvConf. DEL releases what the attachment holds. CHECK verifies the
 * reservation, and that it matches prevResult's addresses. GC releases
 * what no valid attachment holds. STATUS fails (code 50) when the store
 * cannot be written or a range set is full. */
#include <string.h>

#include "cni/ipam.h"
#include "cni/plugin.h"

static int load(struct cni_call *c, struct ipam_hl_config *cfg, struct ipam_store *st)
{
	if (ipam_hl_config_parse(c->conf, c->version, cni_call_arg(c, "IP"), cfg, &c->err) < 0)
		return -1;
	return ipam_store_open(st, cfg->data_dir, c->net_name, cfg->n_sets, &c->err);
}

static int cmd_add(struct cni_call *c)
{
	struct ipam_hl_config cfg;
	if (ipam_hl_config_parse(c->conf, c->version, cni_call_arg(c, "IP"), &cfg, &c->err) < 0)
		return -1;
	_cleanup_result_ struct cni_result *res = cni_result_new();
	int r = -1;
	struct ipam_store st = { .root_fd = -1, .meta_fd = -1, .lock_fd = -1, .stamp_fd = -1 };
	if (!res) {
		cni_errorf(&c->err, CNI_ERR_INTERNAL, "out of memory");
		goto out;
	}
	if (cfg.resolv_conf && ipam_resolv_conf_parse(cfg.resolv_conf, &res->dns, &c->err) < 0)
		goto out;
	if (ipam_store_open(&st, cfg.data_dir, c->net_name, cfg.n_sets, &c->err) < 0)
		goto out;
	if (ipam_allocate(&st, &cfg, c->container_id, c->ifname, res, &c->err) < 0)
		goto out;
	for (size_t i = 0; i < cfg.n_routes; i++)
		if (cni_result_add_route(res, &cfg.routes[i]) < 0) {
			cni_errorf(&c->err, CNI_ERR_INTERNAL, "out of memory");
			goto out;
		}
	c->result = TAKE_PTR(res);
	r = 0;
out:
	ipam_store_close(&st);
	ipam_hl_config_free(&cfg);
	return r;
}

static int cmd_del(struct cni_call *c)
{
	struct ipam_hl_config cfg;
	struct ipam_store st;
	int r = load(c, &cfg, &st);
	if (r == 0) {
		r = ipam_store_lock(&st, &c->err);
		if (r == 0)
			r = ipam_store_release(&st, c->container_id, c->ifname, NULL, &c->err);
		ipam_store_close(&st);
	}
	ipam_hl_config_free(&cfg);
	return r;
}

static int check_locked(struct cni_call *c, const struct ipam_hl_config *cfg, struct ipam_store *st)
{
	_cleanup_free_ struct cni_ip *held = NULL;
	size_t n = 0;
	if (ipam_store_find(st, c->container_id, c->ifname, true, &held, &n, &c->err) < 0)
		return -1;
	if (!n)
		return cni_errorf(&c->err, CNI_ERR_CHECK_FAILED, "host-local: Failed to find address added by container %s",
				  c->container_id);
	if (!c->prev)
		return 0;
	/* every prevResult address inside our range sets must be ours */
	for (size_t i = 0; i < c->prev->n_ips; i++) {
		const struct cni_ip *ip = &c->prev->ips[i].address.ip;
		bool ours = false, in_sets = false;
		for (size_t k = 0; k < cfg->n_sets && !in_sets; k++)
			in_sets = ipam_range_set_find(&cfg->sets[k], ip) != NULL;
		for (size_t k = 0; k < n && !ours; k++)
			ours = cni_ip_eq(&held[k], ip);
		if (in_sets && !ours) {
			char a[CNI_IP_STRLEN];
			return cni_errorf(&c->err, CNI_ERR_CHECK_FAILED,
					  "host-local: address %s of prevResult is not reserved for container %s interface %s",
					  cni_ip_fmt(ip, a), c->container_id, c->ifname);
		}
	}
	/* and every address we hold for it must be in prevResult */
	for (size_t k = 0; k < n; k++) {
		bool listed = false;
		for (size_t i = 0; i < c->prev->n_ips && !listed; i++)
			listed = cni_ip_eq(&held[k], &c->prev->ips[i].address.ip);
		if (!listed) {
			char a[CNI_IP_STRLEN];
			return cni_errorf(&c->err, CNI_ERR_CHECK_FAILED,
					  "host-local: address %s reserved for container %s is missing from prevResult",
					  cni_ip_fmt(&held[k], a), c->container_id);
		}
	}
	return 0;
}

static int cmd_check(struct cni_call *c)
{
	struct ipam_hl_config cfg;
	struct ipam_store st;
	int r = load(c, &cfg, &st);
	if (r == 0) {
		r = ipam_store_lock(&st, &c->err);
		if (r == 0)
			r = check_locked(c, &cfg, &st);
		ipam_store_close(&st);
	}
	ipam_hl_config_free(&cfg);
	return r;
}

static int cmd_gc(struct cni_call *c)
{
	struct cni_attachment *valid = NULL;
	size_t n_valid = 0;
	bool present = false;
	if (cni_gc_valid_attachments(c->conf, &valid, &n_valid, &present, &c->err) < 0)
		return -1;
	if (!present)
		return 0; /* nothing tells us what is stale */
	struct ipam_hl_config cfg;
	struct ipam_store st;
	int r = load(c, &cfg, &st);
	if (r == 0) {
		r = ipam_store_lock(&st, &c->err);
		if (r == 0)
			r = ipam_store_gc(&st, valid, n_valid, NULL, &c->err);
		ipam_store_close(&st);
	}
	ipam_hl_config_free(&cfg);
	cni_attachments_free(valid, n_valid);
	return r;
}

static int cmd_status(struct cni_call *c)
{
	struct ipam_hl_config cfg;
	if (ipam_hl_config_parse(c->conf, c->version, NULL, &cfg, &c->err) < 0)
		return -1;
	struct ipam_store st;
	int r = ipam_store_open(&st, cfg.data_dir, c->net_name, cfg.n_sets, &c->err);
	if (r == 0)
		r = ipam_store_probe_writable(&st, &c->err);
	if (r < 0) {
		c->err.code = CNI_ERR_NOT_AVAILABLE;
		cni_error_wrap(&c->err, "host-local: data directory %s is not writable", cfg.data_dir);
	}
	for (size_t i = 0; r == 0 && i < cfg.n_sets; i++) {
		bool found;
		char rs[1024];
		r = ipam_set_has_free(&st, &cfg.sets[i], (int)i, &found, &c->err);
		if (r < 0)
			c->err.code = CNI_ERR_NOT_AVAILABLE;
		else if (!found)
			r = cni_errorf(&c->err, CNI_ERR_NOT_AVAILABLE,
				       "host-local: no IP addresses available in range set %zu: %s", i,
				       ipam_range_set_fmt(&cfg.sets[i], rs, sizeof(rs)));
	}
	ipam_store_close(&st);
	ipam_hl_config_free(&cfg);
	return r;
}

static const char *const args_keys[] = { "IP", NULL };

static const struct cni_plugin plugin = {
	.name = "host-local",
	.about = "allocates IP addresses from range sets, remembered on the local host",
	.args_keys = args_keys,
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
	.status = cmd_status,
};

int main(int argc, char **argv)
{
	return cni_plugin_main(&plugin, argc, argv);
}
