/* host-device: move an existing host link into the container.
 *
 * The device is chosen by one of `device` (name), `hwaddr` (MAC),
 * `kernelpath` (/sys/devices/... of the device), `pciBusID`, or
 * runtimeConfig.deviceID (a PCI address or an auxiliary device id; it
 * wins). ADD stores the original name in the link alias, moves the device
 * into CNI_NETNS renaming it to CNI_IFNAME in the same request, sets it up
 * and applies IPAM (optional) ; a failure gives the device back.
 * DEL releases IPAM, moves the device back under its original name (the
 * kernel's own name if that is taken meanwhile). When the netns is already
 * gone, a physical device has returned to the host by itself under its
 * container name: DEL finds it by its alias and renames it.
 * Not supported: DPDK-bound PCI devices (the reference skips the move). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "cni/exec.h"
#include "cni/json.h"
#include "cni/linkplugin.h"
#include "cni/netlink.h"

struct conf {
	const char *device, *hwaddr, *kernelpath, *pci;
	uint8_t mac[6];
	const char *ipam_type;
	char pci_buf[128];
	bool auxiliary;
	struct cnl_link dev;   /* ADD: the host device found */
};

static int load_conf(struct cni_call *c, struct conf *k)
{
	struct cni_error *err = &c->err;
	memset(k, 0, sizeof(*k));
	if (cj_str(c->conf, "device", &k->device, err) < 0 || cj_str(c->conf, "hwaddr", &k->hwaddr, err) < 0 ||
	    cj_str(c->conf, "kernelpath", &k->kernelpath, err) < 0 || cj_str(c->conf, "pciBusID", &k->pci, err) < 0)
		return -1;
	json_t *dev = cni_call_runtime_config(c, "deviceID");
	if (dev && json_is_string(dev) && *json_string_value(dev)) {
		const char *id = json_string_value(dev);
		unsigned a, b, d, f;
		char extra;
		k->auxiliary = sscanf(id, "%x:%x:%x.%x%c", &a, &b, &d, &f, &extra) != 4;
		snprintf(k->pci_buf, sizeof(k->pci_buf), "%s", id);
		k->pci = k->pci_buf;
		k->device = k->hwaddr = k->kernelpath = NULL;
	}
	if (k->device && !*k->device)
		k->device = NULL;
	if (k->hwaddr && !*k->hwaddr)
		k->hwaddr = NULL;
	if (k->kernelpath && !*k->kernelpath)
		k->kernelpath = NULL;
	if (k->pci && !*k->pci)
		k->pci = NULL;
	if (!k->device && !k->hwaddr && !k->kernelpath && !k->pci)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				  "specify either \"device\", \"hwaddr\", \"kernelpath\" or \"pciBusID\"");
	if (k->hwaddr && cnl_mac_parse(k->hwaddr, k->mac) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid hwaddr \"%s\"", k->hwaddr);
	if (k->kernelpath && strncmp(k->kernelpath, "/sys/devices/", 13))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "kernelpath \"%s\" must start with /sys/devices/",
				  k->kernelpath);
	if (k->pci && (strchr(k->pci, '/') || !strcmp(k->pci, "..")))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid device id \"%s\"", k->pci);
	k->ipam_type = cni_ipam_type(c->conf);
	return 0;
}

static bool match_mac(const struct cnl_link *i, void *arg)
{
	return i->has_mac && !memcmp(i->mac, arg, 6);
}

/* the one name under <dir>/net */
static int sysfs_netdev(const char *dir, char name[IF_NAMESIZE], struct cni_error *err)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/net", dir);
	DIR *d = opendir(path);
	if (!d)
		return cni_errorf_errno(err, CNI_ERR_NOT_FOUND, errno, "failed to find net device under %s", path);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && n++ == 0)
			snprintf(name, IF_NAMESIZE, "%s", e->d_name);
	closedir(d);
	if (n != 1)
		return cni_errorf(err, CNI_ERR_NOT_FOUND, "expected one net device under %s, found %d", path, n);
	return 0;
}

/* The device in the namespace of sk, by the configured selector. */
static int find_device(struct nl_sock *sk, const struct conf *k, struct cnl_link *info, struct cni_error *err)
{
	char name[IF_NAMESIZE], dir[300];
	if (k->device)
		return cnl_link_query(sk, k->device, 0, info, err);
	if (k->hwaddr) {
		if (cnl_link_find(sk, match_mac, (void *)k->mac, info, err) < 0)
			return cni_errorf(err, CNI_ERR_NOT_FOUND, "failed to find device with hwaddr \"%s\"", k->hwaddr);
		return 0;
	}
	if (k->kernelpath)
		snprintf(dir, sizeof(dir), "%s", k->kernelpath);
	else
		snprintf(dir, sizeof(dir), "/sys/bus/%s/devices/%s", k->auxiliary ? "auxiliary" : "pci", k->pci);
	if (sysfs_netdev(dir, name, err) < 0)
		return -1;
	return cnl_link_query(sk, name, 0, info, err);
}

static int move_back(struct nl_sock *sk_ct, int host_ns, int ifindex, const char *name, struct cni_error *err)
{
	struct sublink_change down = SUBLINK_CHANGE_INIT;
	down.up = 0;
	if (sublink_change(sk_ct, ifindex, &down, err) < 0)
		return -1;
	struct sublink_change mv = SUBLINK_CHANGE_INIT;
	mv.ns_fd = host_ns;
	mv.name = name && *name ? name : NULL;
	if (sublink_change(sk_ct, ifindex, &mv, err) == 0)
		return 0;
	if (err->code != CNI_ERR_EXISTS || !mv.name)
		return -1;
	/* the original name is taken in the host now: keep the kernel's name */
	cni_error_clear(err);
	mv.name = NULL;
	return sublink_change(sk_ct, ifindex, &mv, err);
}

static int undo_move(struct lp_ctx *x, const struct cnl_link *link, void *arg)
{
	struct cni_error ignored = { 0 };
	int host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (host_ns < 0)
		return -1;
	int r = move_back(x->sk_ct, host_ns, link->ifindex, arg, &ignored);
	close(host_ns);
	if (r == 0) {
		struct cnl_link h;
		struct sublink_change clr = SUBLINK_CHANGE_INIT;
		clr.alias = "";
		if (cnl_link_query(x->sk_host, arg, 0, &h, &ignored) == 0)
			sublink_change(x->sk_host, h.ifindex, &clr, &ignored);
	}
	return r;
}

static int create_link(struct lp_ctx *x, void *arg, struct cnl_link *link, struct lp_add_opts *o)
{
	struct conf *k = arg;
	struct cni_call *c = x->call;
	struct cnl_link *dev = &k->dev;
	if (find_device(x->sk_host, k, dev, &c->err) < 0)
		return cni_error_wrap(&c->err, "failed to find host device");
	struct sublink_change prep = SUBLINK_CHANGE_INIT;
	prep.up = 0;
	prep.alias = dev->name;
	if (sublink_change(x->sk_host, dev->ifindex, &prep, &c->err) < 0)
		return -1;
	if (cnl_link_query(x->sk_ct, c->ifname, 0, link, &c->err) == 0)
		return cni_errorf(&c->err, CNI_ERR_EXISTS, "container already has an interface named \"%s\"", c->ifname);
	cni_error_clear(&c->err);
	/* one request: the kernel moves the device, then renames it in the
	 * container; when the rename fails the device is already there under
	 * its old name and has to come back */
	struct sublink_change mv = SUBLINK_CHANGE_INIT;
	mv.ns_fd = x->nsfd;
	mv.name = c->ifname;
	if (sublink_change(x->sk_host, dev->ifindex, &mv, &c->err) < 0) {
		struct cni_error ignored = { 0 };
		struct cnl_link stray;
		if (cnl_link_query(x->sk_ct, dev->name, 0, &stray, &ignored) == 0)
			undo_move(x, &stray, dev->name);
		struct sublink_change clr = SUBLINK_CHANGE_INIT;
		clr.alias = "";
		if (cnl_link_query(x->sk_host, dev->name, 0, &stray, &ignored) == 0)
			sublink_change(x->sk_host, stray.ifindex, &clr, &ignored);
		return cni_error_wrap(&c->err, "failed to move \"%s\" into the container as \"%s\"", dev->name,
				      c->ifname);
	}
	*o = (struct lp_add_opts){
		.ipam_type = k->ipam_type, .dns = LP_DNS_CONF, .bring_up_l2 = true, .link_kind = "host-device",
		.undo_link = undo_move, .undo_arg = dev->name,
	};
	return cnl_link_query(x->sk_ct, c->ifname, 0, link, &c->err);
}

/* the config is loaded before the netns is opened; any link kind */
static const struct lp_spec host_device = { .create = create_link };

static int cmd_add(struct cni_call *c)
{
	struct conf k;
	if (load_conf(c, &k) < 0)
		return -1;
	return lp_add(c, &host_device, &k);
}

static bool match_returned(const struct cnl_link *i, void *arg)
{
	const struct conf *k = arg;
	if (!i->alias[0] || !strcmp(i->alias, i->name))
		return false;
	if (k->device)
		return !strcmp(i->alias, k->device);
	if (k->hwaddr)
		return i->has_mac && !memcmp(i->mac, k->mac, 6);
	return false;
}

/* The netns went away before DEL: a physical device came back to the host
 * under its container name. Give it its own name again. */
static int restore_returned(struct cni_call *c, const struct conf *k)
{
	_cleanup_nl_ struct nl_sock *sk = cnl_open(&c->err);
	if (!sk)
		return -1;
	struct cnl_link i;
	int r;
	if (k->device || k->hwaddr)
		r = cnl_link_find(sk, match_returned, (void *)k, &i, &c->err);
	else
		r = find_device(sk, k, &i, &c->err);
	if (r < 0 || !i.alias[0] || !strcmp(i.alias, i.name)) {
		cni_error_clear(&c->err);
		return 0; /* nothing came back (virtual devices die with their netns) */
	}
	struct sublink_change chg = SUBLINK_CHANGE_INIT;
	chg.up = 0;
	chg.name = i.alias;
	if (sublink_change(sk, i.ifindex, &chg, &c->err) < 0)
		return cni_error_wrap(&c->err, "failed to restore the name of \"%s\"", i.name);
	struct sublink_change clr = SUBLINK_CHANGE_INIT;
	clr.alias = "";
	return sublink_change(sk, i.ifindex, &clr, &c->err);
}

static int cmd_del(struct cni_call *c)
{
	struct conf k;
	if (load_conf(c, &k) < 0)
		return -1;
	if (k.ipam_type && cni_delegate(c, k.ipam_type, CNI_CMD_DEL, NULL, &c->err) < 0)
		return -1;
	if (!*c->netns || c->netns_gone)
		return restore_returned(c, &k);
	struct lp_ctx x;
	int r = lp_open(c, &x);
	struct cnl_link link;
	if (r == 0) {
		if (cnl_link_query(x.sk_ct, c->ifname, 0, &link, &c->err) < 0) {
			if (c->err.code != CNI_ERR_NOT_FOUND) {
				lp_close(&x);
				return -1;
			}
			cni_error_clear(&c->err);
			lp_close(&x);
			return restore_returned(c, &k);
		}
		const char *name = link.alias[0] ? link.alias : k.device ? k.device : NULL;
		r = undo_move(&x, &link, (void *)name);
		if (r < 0)
			r = cni_errorf(&c->err, CNI_ERR_NETLINK, "failed to move \"%s\" back to the host", c->ifname);
	}
	lp_close(&x);
	return r;
}

static int cmd_check(struct cni_call *c)
{
	struct conf k;
	if (load_conf(c, &k) < 0)
		return -1;
	return lp_check(c, &host_device, &k);
}

static const struct cni_plugin plugin = {
	.name = "host-device",
	.about = "moves an existing host device into the container and back",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.status = lp_forward_ipam,
	.gc = lp_forward_ipam,
};

int main(int argc, char **argv)
{
	return cni_plugin_main(&plugin, argc, argv);
}
