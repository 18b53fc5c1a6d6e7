/* bridge plugin: configuration (conf.c) shared with main.c. */
#ifndef CNI_BRIDGE_H
#define CNI_BRIDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "cni/plugin.h"

struct br_conf {
	const char *bridge;            /* "cni0" */
	bool is_gw, is_default_gw, force_address;
	bool ip_masq;
	const char *ip_masq_backend;   /* accepted: served by nftables */
	unsigned mtu;
	bool hairpin, promisc;
	int vlan;
	bool has_trunk;
	uint64_t trunk[4096 / 64];     /* VIDs of vlanTrunk */
	size_t n_trunk;
	bool preserve_default_vlan;
	bool macspoofchk, enabledad, disable_container_iface, port_isolation;
	/* this suite's own keys */
	bool mtu_from_default_route;   /* mtu unset: take the default-route interface's MTU */
	bool internal;                 /* Docker --internal: no masquerade, no default route */
	const char *ipam_type;         /* NULL = L2 mode */
	bool dns_override;
	uint8_t mac[6];                /* container MAC */
	bool has_mac;
};

int br_conf_load(const struct cni_call *c, struct br_conf *cf, struct cni_error *err);
bool br_conf_vlan_filtering(const struct br_conf *cf);

#endif
