/* bridge: the network configuration, its defaults and its validation. */
#include <string.h>

#include "bridge.h"
#include "cni/exec.h"
#include "cni/json.h"
#include "cni/netlink.h"

static int valid_ifname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= IF_NAMESIZE || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == ':' || *p == ' ' || *p == '\t' || *p == '\n')
			return 0;
	return 1;
}

/* vlanTrunk entries, with the reference's checks and texts. */
static int parse_trunk(const json_t *list, struct br_conf *cf, struct cni_error *err)
{
	if (!json_is_array(list))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid value for \"vlanTrunk\": expected a list");
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item) {
		if (!json_is_object(item))
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid value for \"vlanTrunk\"[%zu]: expected an object", i);
		long long id = -1, lo = -1, hi = -1;
		bool has_id = cj_get(item, "id") != NULL, has_lo = cj_get(item, "minID") != NULL,
		     has_hi = cj_get(item, "maxID") != NULL;
		if (cj_int(item, "id", &id, err) < 0 || cj_int(item, "minID", &lo, err) < 0 ||
		    cj_int(item, "maxID", &hi, err) < 0)
			return -1;
		if (has_lo && has_hi) {
			if (lo <= 0 || lo > 4094)
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "incorrect trunk minID parameter");
			if (hi <= 0 || hi > 4094)
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "incorrect trunk maxID parameter");
			if (hi < lo)
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "minID is greater than maxID in trunk parameter");
			for (long long v = lo; v <= hi; v++)
				cf->trunk[v / 64] |= 1ull << (v % 64);
		} else if (has_hi) {
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
					  "minID and maxID should be configured simultaneously, minID is missing");
		} else if (has_lo) {
			return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
					  "minID and maxID should be configured simultaneously, maxID is missing");
		}
		if (has_id) {
			if (id <= 0 || id > 4094)
				return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "incorrect trunk id parameter");
			cf->trunk[id / 64] |= 1ull << (id % 64);
		}
		cf->n_trunk++;
	}
	return 0;
}

/* MAC precedence of the reference: runtimeConfig.mac > args.cni.mac > CNI_ARGS MAC. */
static int pick_mac(const struct cni_call *c, struct br_conf *cf, struct cni_error *err)
{
	const char *mac = NULL, *from = NULL;
	json_t *v = cni_call_runtime_config(c, "mac");
	if (v && json_is_string(v) && *json_string_value(v)) {
		mac = json_string_value(v);
		from = "runtimeConfig.mac";
	}
	if (!mac && (v = cni_call_args_cni(c, "mac")) && json_is_string(v) && *json_string_value(v)) {
		mac = json_string_value(v);
		from = "args.cni.mac";
	}
	if (!mac && (mac = cni_call_arg(c, "MAC")) && *mac)
		from = "CNI_ARGS MAC";
	if (!mac || !*mac)
		return 0;
	if (cnl_mac_parse(mac, cf->mac) < 0)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid MAC address in %s: \"%s\"", from, mac);
	if (cf->mac[0] & 1)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid MAC address in %s: \"%s\" is a multicast address",
				  from, mac);
	cf->has_mac = true;
	return 0;
}

int br_conf_load(const struct cni_call *c, struct br_conf *cf, struct cni_error *err)
{
	const json_t *j = c->conf;
	memset(cf, 0, sizeof(*cf));
	cf->bridge = "cni0";
	cf->preserve_default_vlan = true;
	long long mtu = 0, vlan = 0;
	if (cj_str(j, "bridge", &cf->bridge, err) < 0 || cj_bool(j, "isGateway", &cf->is_gw, err) < 0 ||
	    cj_bool(j, "isDefaultGateway", &cf->is_default_gw, err) < 0 ||
	    cj_bool(j, "forceAddress", &cf->force_address, err) < 0 || cj_bool(j, "ipMasq", &cf->ip_masq, err) < 0 ||
	    cj_str(j, "ipMasqBackend", &cf->ip_masq_backend, err) < 0 ||
	    cj_int_range(j, "mtu", 0, 65535, &mtu, err) < 0 || cj_bool(j, "hairpinMode", &cf->hairpin, err) < 0 ||
	    cj_bool(j, "promiscMode", &cf->promisc, err) < 0 || cj_int(j, "vlan", &vlan, err) < 0 ||
	    cj_bool(j, "preserveDefaultVlan", &cf->preserve_default_vlan, err) < 0 ||
	    cj_bool(j, "macspoofchk", &cf->macspoofchk, err) < 0 || cj_bool(j, "enabledad", &cf->enabledad, err) < 0 ||
	    cj_bool(j, "disableContainerInterface", &cf->disable_container_iface, err) < 0 ||
	    cj_bool(j, "portIsolation", &cf->port_isolation, err) < 0 ||
	    cj_bool(j, "mtuFromDefaultRoute", &cf->mtu_from_default_route, err) < 0 ||
	    cj_bool(j, "internal", &cf->internal, err) < 0)
		return -1;
	if (!cf->bridge || !*cf->bridge)
		cf->bridge = "cni0";
	if (!valid_ifname(cf->bridge))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid value for \"bridge\": \"%s\" is not a valid interface name",
				  cf->bridge);
	cf->mtu = (unsigned)mtu;
	if (vlan < 0 || vlan > 4094)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "invalid VLAN ID %lld (must be between 0 and 4094)", vlan);
	cf->vlan = (int)vlan;
	json_t *trunk = cj_get(j, "vlanTrunk");
	if (trunk) {
		cf->has_trunk = true;
		if (parse_trunk(trunk, cf, err) < 0)
			return -1;
	}
	if (cf->ip_masq_backend && *cf->ip_masq_backend && strcmp(cf->ip_masq_backend, "iptables") &&
	    strcmp(cf->ip_masq_backend, "nftables"))
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "unknown ipmasq backend \"%s\"", cf->ip_masq_backend);
	if (cf->is_default_gw)
		cf->is_gw = true;
	if (cf->hairpin && cf->promisc)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "cannot set hairpin mode and promiscuous mode at the same time");
	cf->ipam_type = cni_ipam_type(j);
	if (cf->disable_container_iface && cf->ipam_type)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG, "cannot use IPAM when DisableContainerInterface flag is set");
	if (cf->internal && cf->ip_masq)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				  "invalid config: \"internal\" networks have no way out, \"ipMasq\" cannot be set");
	if (cf->internal && cf->is_default_gw)
		return cni_errorf(err, CNI_ERR_INVALID_CONFIG,
				  "invalid config: \"internal\" networks have no default route, \"isDefaultGateway\" cannot be set");
	cf->dns_override = cni_dns_json_present(cj_get(j, "dns"));
	return pick_mac(c, cf, err);
}

bool br_conf_vlan_filtering(const struct br_conf *cf)
{
	return cf->vlan != 0 || cf->n_trunk > 0;
}
