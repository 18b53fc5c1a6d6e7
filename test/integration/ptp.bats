#!/usr/bin/env bats
# ptp plugin (reference section 2.8): routed veth pairs, real namespaces.
# Own namespaces, private subnet, host-local dataDir under $TMP per test.
load helpers

setup() {
	setup_common
	require_root
	SUBNET_B=$((200 + 0x${TID:0:2} % 50)).$((0x${TID:2:2}))
	NET4=10.$SUBNET_B
	NET6=fd9d:$(printf %x 0x${TID:0:4}):$(printf %x 0x${TID:4:2})
	DATA=$TMP/ipam
	export CNI_PATH="$BIN:/usr/lib/cni"
	export CNI_C_STATE_DIR="$TMP/state"
}
teardown() { teardown_common; }

conf() { # VERSION EXTRA [IPAM]
	local ver=$1 extra=${2:-} ipam=${3:-}
	[ -n "$ipam" ] || ipam="{\"type\":\"host-local\",\"subnet\":\"$NET4.0/24\",\"dataDir\":\"$DATA\",\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}"
	printf '{"cniVersion":"%s","name":"pnet%s","type":"ptp"%s,"ipam":%s}' "$ver" "$TID" "${extra:+,$extra}" "$ipam"
}
mkns() { netns_new "p$1-$TID"; echo "/run/netns/p$1-$TID"; }
leases() { ls "$DATA/pnet$TID" 2>/dev/null | grep -Evc '^(lock|last_reserved_ip\..*)$' || true; }
peers() { ip -o link show type veth | grep -c "link-netns p.-$TID" || true; }

@test "ptp: ADD result, routes in the container and on the host, containers reach each other" {
	A=$(mkns a); B=$(mkns b)
	C=$(conf 1.0.0)
	run cni ptp ADD "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(json_get "$output" '.interfaces|length')" = 2 ]
	[ "$(json_get "$output" '.interfaces[1].sandbox')" = "$A" ]
	[ "$(json_get "$output" '.ips[0].interface')" = 1 ]
	h=$(json_get "$output" '.interfaces[0].name')
	ip -n pa-$TID route show | grep -q "^$NET4.1 dev eth0 scope link src $NET4.2"
	ip -n pa-$TID route show | grep -q "^$NET4.0/24 via $NET4.1 dev eth0 src $NET4.2"
	ip -n pa-$TID route show | grep -q "^default via $NET4.1 dev eth0"
	ip route show "$NET4.2" | grep -q "dev $h"
	ip addr show dev "$h" | grep -q "$NET4.1/32"
	run cni ptp ADD "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ]
	ip netns exec pa-$TID ping -c1 -W2 "$NET4.1"
	ip netns exec pa-$TID ping -c1 -W2 "$NET4.3"
	P=$(printf '%s' "$output" | jq -c .)
	run cni ptp CHECK "$B" eth0 "$(printf '%s' "$C" | jq -c ". + {prevResult: $P}")" cb-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	ip -n pb-$TID addr del "$NET4.3/24" dev eth0
	run cni ptp CHECK "$B" eth0 "$(printf '%s' "$C" | jq -c ". + {prevResult: $P}")" cb-$TID
	[ "$status" -eq 1 ]; [ "$(json_get "$output" .code)" = 107 ]
	cni ptp DEL "$A" eth0 "$C" ca-$TID
	cni ptp DEL "$B" eth0 "$C" cb-$TID
	[ "$(peers)" = 0 ]; [ "$(leases)" = 0 ]
	[ -z "$(ip route show "$NET4.2")" ]
}

@test "ptp: dual stack and the 1.1.0 result" {
	A=$(mkns a)
	IPAM="{\"type\":\"host-local\",\"dataDir\":\"$DATA\",\"ranges\":[[{\"subnet\":\"$NET4.0/24\"}],[{\"subnet\":\"$NET6::/64\"}]]}"
	C=$(conf 1.1.0 '"mtu":1420' "$IPAM")
	run cni ptp ADD "$A" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(json_get "$output" '.interfaces[1].mtu')" = 1420 ]
	ip netns exec pa-$TID ping -6 -c1 -W2 "$NET6::1"
	ip netns exec pa-$TID ping -c1 -W2 "$NET4.1"
	cni ptp DEL "$A" eth0 "$C"
	[ "$(leases)" = 0 ]
}

@test "ptp: DEL twice, without netns, with the netns deleted; failures leak nothing" {
	A=$(mkns a); B=$(mkns b)
	C=$(conf 1.0.0)
	run cni ptp ADD "$A" eth0 "$C"
	[ "$status" -eq 0 ]
	run cni ptp DEL "$A" eth0 "$C"; [ "$status" -eq 0 ]
	run cni ptp DEL "$A" eth0 "$C"; [ "$status" -eq 0 ]
	run cni ptp DEL "" eth0 "$C"; [ "$status" -eq 0 ]
	run cni ptp ADD "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ]
	ip netns del pb-$TID
	run cni ptp DEL "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ]
	[ "$(leases)" = 0 ]
	# a route that cannot be installed: everything rolled back
	IPAM="{\"type\":\"host-local\",\"subnet\":\"$NET4.0/24\",\"dataDir\":\"$DATA\",\"routes\":[{\"dst\":\"198.51.100.0/24\",\"gw\":\"203.0.113.1\"}]}"
	run cni ptp ADD "$A" eth0 "$(conf 1.0.0 '' "$IPAM")"
	[ "$status" -eq 1 ]
	[ "$(leases)" = 0 ]; [ "$(peers)" = 0 ]
	run cni ptp ADD "$A" eth0 '{"cniVersion":"1.0.0","name":"x","type":"ptp"}'
	[ "$status" -eq 1 ]
}

@test "ptp: ipMasq elements follow ADD and DEL" {
	A=$(mkns a)
	C=$(conf 1.1.0 '"ipMasq":true')
	on_cleanup "printf '%s' '$(printf '%s' "$C" | jq -c '. + {"cni.dev/valid-attachments":[]}')' | CNI_COMMAND=GC CNI_PATH=$CNI_PATH CNI_C_STATE_DIR=$CNI_C_STATE_DIR $BIN/ptp"
	run cni ptp ADD "$A" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	nft -j list set inet cni_c "masq4_pnet$TID" | jq -e '[.nftables[]|select(.set)|.set.elem//[]|.[]]|length == 1'
	run cni ptp DEL "$A" eth0 "$C"
	[ "$status" -eq 0 ]
	sleep 0.05
	nft -j list set inet cni_c "masq4_pnet$TID" 2>/dev/null | jq -e '[.nftables[]|select(.set)|.set.elem//[]|.[]]|length == 0' ||
		! nft list set inet cni_c "masq4_pnet$TID" 2>/dev/null || false
	run bash -c "printf '%s' '$C' | CNI_COMMAND=STATUS CNI_PATH=$CNI_PATH $BIN/ptp"
	[ "$status" -eq 0 ]
}
