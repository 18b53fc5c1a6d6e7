/* Conntrack cleanup over ctnetlink (libmnl), no conntrack binary. */
#ifndef CNI_CONNTRACK_H
#define CNI_CONNTRACK_H

#include <stdint.h>

#include "cni/common.h"

/* Delete every conntrack entry of `family` (AF_INET/AF_INET6) whose original
 * tuple is protocol `proto` (IPPROTO_UDP, ...) to destination port `port`.
 * Returns the number deleted, or -1 (code 103). Entries that vanish while we
 * delete are not errors. */
int ct_flush_dport(int family, uint8_t proto, uint16_t port, struct cni_error *err);

#endif
