#!/usr/bin/env bats
# tap (reference 2.8): persistent TAP devices made by ioctl in a test netns.
load helpers

setup() {
	setup_common
	export CNI_PATH="$BIN:/usr/lib/cni"
	netns_new tpa$TID
	NSA=/run/netns/tpa$TID
	DATA=$TMP/ipam
}
teardown() { teardown_common; }

@test "tap: created with mac, mtu, multiQueue, owner, group, enslaved to a bridge in the container" {
	ip -n tpa$TID link add br0 type bridge
	C='{"cniVersion":"1.1.0","name":"tp'$TID'","type":"tap","mac":"02:00:00:00:aa:01","mtu":1400,"multiQueue":true,"owner":4321,"group":4322,"bridge":"br0","ipam":{}}'
	run cni tap ADD $NSA tap0 "$C"
	[ "$status" -eq 0 ]
	echo "$output"
	[ "$(json_get "$output" '.interfaces[0].mac')" = 02:00:00:00:aa:01 ]
	j=$(ip -n tpa$TID -d -j link show tap0)
	echo "$j"
	[ "$(json_get "$j" '.[0].linkinfo.info_kind')" = tun ]
	[ "$(json_get "$j" '.[0].linkinfo.info_data.type')" = tap ]
	[ "$(json_get "$j" '.[0].linkinfo.info_data.multi_queue')" = true ]
	[ "$(json_get "$j" '.[0].linkinfo.info_data.vnet_hdr')" = true ]
	[ "$(json_get "$j" '.[0].linkinfo.info_data.user')" = 4321 ]
	[ "$(json_get "$j" '.[0].linkinfo.info_data.group')" = 4322 ]
	[ "$(json_get "$j" '.[0].mtu')" = 1400 ]
	[ "$(json_get "$j" '.[0].master')" = br0 ]
	ip -n tpa$TID link show tap0 | grep -q '[<,]UP[,>]'
	run cni tap DEL $NSA tap0 "$C"; [ "$status" -eq 0 ]
	! ip -n tpa$TID link show tap0 || false
	run cni tap DEL $NSA tap0 "$C"; [ "$status" -eq 0 ]
	ip netns del tpa$TID
	run cni tap DEL $NSA tap0 "$C"; [ "$status" -eq 0 ]
}

@test "tap: IPAM address and routes applied, released on DEL; MAC from runtimeConfig wins" {
	C='{"cniVersion":"1.0.0","name":"tp'$TID'","type":"tap","mac":"02:00:00:00:aa:01","runtimeConfig":{"mac":"02:00:00:00:aa:02"},"ipam":{"type":"host-local","subnet":"10.68.1.0/24","dataDir":"'$DATA'"},"dns":{"nameservers":["192.0.2.1"]}}'
	run cni tap ADD $NSA tap0 "$C"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '.interfaces[0].mac')" = 02:00:00:00:aa:02 ]
	[ "$(json_get "$output" '.ips[0].address')" = 10.68.1.2/24 ]
	[ "$(json_get "$output" '.dns.nameservers[0]')" = 192.0.2.1 ]
	ip -n tpa$TID -4 addr show tap0 | grep -q 10.68.1.2/24
	[ "$(ip netns exec tpa$TID cat /proc/sys/net/ipv4/conf/tap0/arp_notify)" = 1 ]
	CC=$(printf '%s' "$C" | jq -c --argjson p "$output" '.prevResult=$p')
	cni tap CHECK $NSA tap0 "$CC"
	ip -n tpa$TID addr flush dev tap0
	run cni tap CHECK $NSA tap0 "$CC"
	[ "$(json_get "$output" .code)" = 107 ]
	run cni tap DEL $NSA tap0 "$C"; [ "$status" -eq 0 ]
	[ "$(ls $DATA/tp$TID | grep -c '^10\.')" = 0 ]
}

@test "tap: an existing interface of that name is not taken over; failures leak nothing" {
	ip -n tpa$TID tuntap add mode tap name tap0
	C='{"cniVersion":"1.0.0","name":"tp'$TID'","type":"tap","ipam":{"type":"host-local","subnet":"10.68.2.0/24","dataDir":"'$DATA'"}}'
	run cni tap ADD $NSA tap0 "$C"
	[ "$status" -ne 0 ]
	[ "$(json_get "$output" .code)" = 106 ]
	[ "$(ip -n tpa$TID -o link | grep -vc ': lo:')" = 1 ]
	[ "$(ls $DATA/tp$TID 2>/dev/null | grep -c '^10\.')" = 0 ]
	run cni tap ADD $NSA tap1 '{"cniVersion":"1.0.0","name":"x","type":"tap","bridge":"nobr"}'
	[[ "$(json_get "$output" .msg)" == *'failed to find bridge "nobr"'* ]]
	run cni tap ADD $NSA tap1 '{"cniVersion":"1.0.0","name":"x","type":"tap","selinuxContext":"system_u:x"}'
	[ "$(json_get "$output" .code)" = 2 ]
	run cni tap ADD $NSA tap1 "$(printf '%s' "$C" | jq -c '.ipam.routes=[{"dst":"203.0.113.0/24","gw":"198.51.100.1"}]')"
	[ "$status" -ne 0 ]
	[ "$(ip -n tpa$TID -o link | grep -vc ': lo:')" = 1 ]
	[ "$(ls $DATA/tp$TID 2>/dev/null | grep -c '^10\.')" = 0 ]
}
