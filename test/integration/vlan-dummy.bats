#!/usr/bin/env bats
# vlan and dummy on this host: no 8021q and no dummy driver here, so the
# plugins must answer error 108 naming the driver and leak nothing. The
# real behaviour is tested in the netlab (vlan-dummy-netlab.bats).
load helpers

setup() {
	setup_common
	export CNI_PATH="$BIN:/usr/lib/cni"
	ip link add vdp$TID type veth peer name vdq$TID
	link_cleanup vdp$TID
	ip link set vdp$TID up
	netns_new vda$TID
	IPAM='"ipam":{"type":"host-local","subnet":"10.79.1.0/24","dataDir":"'$TMP'/ipam"}'
}
teardown() { teardown_common; }

has_kind() { # KIND ARGS...
	local k=$1; shift
	ip link add vdk$TID "$@" type $k 2>/dev/null || return 1
	ip link del vdk$TID; return 0
}

@test "vlan: a kernel without 8021q gets error 108 naming the driver, and nothing leaks" {
	if has_kind vlan link vdp$TID id 9; then skip "this kernel has 8021q; the netlab tests cover vlan"; fi
	C='{"cniVersion":"1.0.0","name":"vd'$TID'","type":"vlan","master":"vdp'$TID'","vlanId":9,'$IPAM'}'
	run cni vlan ADD /run/netns/vda$TID eth0 "$C"
	[ "$(json_get "$output" .code)" = 108 ]
	[[ "$(json_get "$output" .msg)" == *'driver "8021q"'* ]]
	[ "$(ip -n vda$TID -o link | grep -vc ': lo:')" = 0 ]
	[ "$(ls $TMP/ipam/vd$TID 2>/dev/null | grep -c '^10\.')" = 0 ]
	run cni vlan DEL /run/netns/vda$TID eth0 "$C"
	[ "$status" -eq 0 ]
}

@test "vlan: config errors before any kernel work" {
	run cni vlan ADD /run/netns/vda$TID eth0 '{"cniVersion":"1.0.0","name":"x","type":"vlan","vlanId":1,'"$IPAM"'}'
	[[ "$(json_get "$output" .msg)" == *'"master" field is required'* ]]
	run cni vlan ADD /run/netns/vda$TID eth0 '{"cniVersion":"1.0.0","name":"x","type":"vlan","master":"vdp'$TID'","vlanId":4095,'"$IPAM"'}'
	[[ "$(json_get "$output" .msg)" == *"invalid VLAN ID 4095"* ]]
	run cni vlan ADD /run/netns/vda$TID eth0 '{"cniVersion":"1.0.0","name":"x","type":"vlan","master":"vdp'$TID'","vlanId":1}'
	[[ "$(json_get "$output" .msg)" == *"requires an IPAM configuration"* ]]
}

@test "dummy: a kernel without the dummy driver gets error 108, and nothing leaks" {
	if has_kind dummy; then skip "this kernel has dummy; the netlab tests cover it"; fi
	C='{"cniVersion":"1.0.0","name":"vd'$TID'","type":"dummy",'$IPAM'}'
	run cni dummy ADD /run/netns/vda$TID eth0 "$C"
	[ "$(json_get "$output" .code)" = 108 ]
	[[ "$(json_get "$output" .msg)" == *'driver "dummy"'* ]]
	[ "$(ls $TMP/ipam/vd$TID 2>/dev/null | grep -c '^10\.')" = 0 ]
	run cni dummy ADD /run/netns/vda$TID eth0 '{"cniVersion":"1.0.0","name":"x","type":"dummy"}'
	[ "$(json_get "$output" .msg)" = "dummy interface requires an IPAM configuration" ]
}
