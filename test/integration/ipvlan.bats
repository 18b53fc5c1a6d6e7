#!/usr/bin/env bats
# ipvlan on this host: its kernel has no ipvlan driver, so the plugin must
# answer error 108 naming the missing feature and leave nothing behind.
# The real behaviour is tested in the netlab (ipvlan-netlab.bats).
load helpers

setup() {
	setup_common
	export CNI_PATH="$BIN:/usr/lib/cni"
	ip link add ivp$TID type veth peer name ivq$TID
	link_cleanup ivp$TID
	netns_new iva$TID
}
teardown() { teardown_common; }

host_has_ipvlan() {
	ip link add ivk$TID link ivp$TID type ipvlan 2>/dev/null || return 1
	ip link del ivk$TID; return 0
}

@test "ipvlan: a kernel without ipvlan gets error 108 naming the driver, and nothing leaks" {
	if host_has_ipvlan; then skip "this kernel has ipvlan; the netlab tests cover it"; fi
	C='{"cniVersion":"1.0.0","name":"iv'$TID'","type":"ipvlan","master":"ivp'$TID'","ipam":{"type":"host-local","subnet":"10.77.1.0/24","dataDir":"'$TMP'/ipam"}}'
	run cni ipvlan ADD /run/netns/iva$TID eth0 "$C"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 108 ]
	[[ "$(json_get "$output" .msg)" == *"no ipvlan support"* ]]
	[ "$(ip -n iva$TID -o link | grep -vc ': lo:')" = 0 ]
	[ "$(ls "$TMP/ipam/iv$TID" 2>/dev/null | grep -c '^10\.')" = 0 ]
	# DEL still works (nothing to do)
	run cni ipvlan DEL /run/netns/iva$TID eth0 "$C"
	[ "$status" -eq 0 ]
}

@test "ipvlan: DEL needs no master and no default route" {
	# the plugin runs in a namespace without any route and no master is named
	netns_new ivb$TID
	C='{"cniVersion":"1.0.0","name":"iv'$TID'","type":"ipvlan","ipam":{}}'
	run ip netns exec ivb$TID bash -c "printf '%s' '$C' | CNI_COMMAND=DEL CNI_CONTAINERID=c$TID CNI_NETNS=/run/netns/iva$TID CNI_IFNAME=eth0 CNI_PATH=$CNI_PATH $BIN/ipvlan"
	[ "$status" -eq 0 ]
	[ -z "$(ip -n ivb$TID route)" ]
}
