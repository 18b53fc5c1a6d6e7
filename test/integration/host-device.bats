#!/usr/bin/env bats
# host-device (reference 2.8): a veth end created by the test plays the
# host device; its peer sits in a "switch" namespace to carry traffic.
load helpers

setup() {
	setup_common
	export CNI_PATH="$BIN:/usr/lib/cni"
	D=hdd$TID
	netns_new hda$TID; netns_new hdsw$TID
	NSA=/run/netns/hda$TID
	ip link add $D type veth peer name hdp$TID netns hdsw$TID
	link_cleanup $D
	on_cleanup "ip -n hda$TID link del net1"
	ip link set $D address 02:cd:00:00:${TID:0:2}:${TID:2:2}
	MAC=$(ip -j link show $D | jq -r '.[0].address')
	ip -n hdsw$TID link set hdp$TID up
	ip -n hdsw$TID addr add 10.66.${RANDOM:0:2}.1/24 dev hdp$TID 2>/dev/null || true
	SUBPFX=$(ip -n hdsw$TID -j addr show hdp$TID | jq -r '.[0].addr_info[0].local' | sed 's/\.1$//')
	DATA=$TMP/ipam
}
teardown() { teardown_common; }

conf() { # selector-json [extra]
	printf '{"cniVersion":"1.0.0","name":"hd%s","type":"host-device",%s,"ipam":{"type":"host-local","subnet":"%s.0/24","rangeStart":"%s.10","dataDir":"%s"},"dns":{"search":["example.test"]}%s}' \
		"$TID" "$1" "$SUBPFX" "$SUBPFX" "$DATA" "${2:+,$2}"
}
ip_files() { ls "$DATA/hd$TID" 2>/dev/null | grep -c '^[0-9]' || true; }

@test "host-device: device moves in renamed, carries traffic, comes back under its name on DEL" {
	C=$(conf '"device":"'$D'"')
	run cni host-device ADD $NSA net1 "$C"
	[ "$status" -eq 0 ]
	echo "$output"
	[ "$(json_get "$output" '.interfaces[0].name')" = net1 ]
	[ "$(json_get "$output" '.interfaces[0].mac')" = "$MAC" ]
	[ "$(json_get "$output" '.dns.search[0]')" = example.test ]
	! ip link show $D || false
	[ "$(ip -n hda$TID -j link show net1 | jq -r '.[0].ifalias')" = $D ]
	ip netns exec hda$TID ping -c1 -W2 $SUBPFX.1
	run cni host-device DEL $NSA net1 "$C"
	[ "$status" -eq 0 ]
	ip link show $D
	[ "$(ip -j link show $D | jq -r '.[0].ifalias // ""')" = "" ]
	! ip -n hda$TID link show net1 || false
	[ "$(ip_files)" = 0 ]
	run cni host-device DEL $NSA net1 "$C"
	[ "$status" -eq 0 ]
}

@test "host-device: selected by hwaddr and by runtimeConfig.deviceID precedence errors" {
	C=$(conf '"hwaddr":"'$MAC'"')
	run cni host-device ADD $NSA net1 "$C"
	[ "$status" -eq 0 ]
	ip -n hda$TID link show net1
	run cni host-device DEL $NSA net1 "$C"
	[ "$status" -eq 0 ]
	ip link show $D
	# deviceID wins over device and must exist as a PCI/auxiliary device
	run cni host-device ADD $NSA net1 "$(conf '"device":"'$D'","runtimeConfig":{"deviceID":"0000:ff:1f.7"}')"
	[ "$status" -ne 0 ]
	[[ "$(json_get "$output" .msg)" == *"/sys/bus/pci/devices/0000:ff:1f.7/net"* ]]
	ip link show $D
}

@test "host-device: config errors name the selector" {
	run cni host-device ADD $NSA net1 '{"cniVersion":"1.0.0","name":"x","type":"host-device"}'
	[ "$(json_get "$output" .msg)" = 'specify either "device", "hwaddr", "kernelpath" or "pciBusID"' ]
	run cni host-device ADD $NSA net1 "$(conf '"kernelpath":"/tmp/x"')"
	[[ "$(json_get "$output" .msg)" == *"must start with /sys/devices/"* ]]
	run cni host-device ADD $NSA net1 "$(conf '"device":"nope'$TID'"')"
	[ "$(json_get "$output" .code)" = 110 ]
	[ "$(ip_files)" = 0 ]
}

@test "host-device: a failure after the move gives the device back and releases the address" {
	C=$(conf '"device":"'$D'"' | jq -c '.ipam.routes=[{"dst":"203.0.113.0/24","gw":"198.51.100.1"}]')
	run cni host-device ADD $NSA net1 "$C"
	[ "$status" -ne 0 ]
	ip link show $D
	[ "$(ip -j link show $D | jq -r '.[0].ifalias // ""')" = "" ]
	! ip -n hda$TID link show net1 || false
	[ "$(ip_files)" = 0 ]
	# the name is taken in the container: the device stays on the host
	ip -n hda$TID link add net1 type veth peer name hdx$TID
	run cni host-device ADD $NSA net1 "$(conf '"device":"'$D'"')"
	[ "$status" -ne 0 ]
	ip link show $D
	[ "$(ip_files)" = 0 ]
}

@test "host-device: DEL after the netns is gone renames a returned device back" {
	C=$(conf '"device":"'$D'"')
	run cni host-device ADD $NSA net1 "$C"
	[ "$status" -eq 0 ]
	# a physical NIC returns to the host by itself when its netns dies,
	# keeping its container name; a veth would die, so play the kernel here
	on_cleanup "ip link del net1"
	ip -n hda$TID link set net1 netns 1
	ip netns del hda$TID
	ip link show net1
	run cni host-device DEL $NSA net1 "$C"
	[ "$status" -eq 0 ]
	ip link show $D
	! ip link show net1 || false
	[ "$(ip_files)" = 0 ]
}

@test "host-device: CHECK passes after ADD, fails on a changed MAC or a lost address" {
	C=$(conf '"device":"'$D'"')
	run cni host-device ADD $NSA net1 "$C"
	[ "$status" -eq 0 ]
	CC=$(printf '%s' "$C" | jq -c --argjson p "$output" '.prevResult=$p')
	cni host-device CHECK $NSA net1 "$CC"
	ip -n hda$TID link set net1 address 02:11:11:11:11:11
	run cni host-device CHECK $NSA net1 "$CC"
	[[ "$(json_get "$output" .msg)" == *"doesn't match container Mac"* ]]
	ip -n hda$TID link set net1 address $MAC
	ip -n hda$TID addr flush dev net1
	run cni host-device CHECK $NSA net1 "$CC"
	[ "$(json_get "$output" .code)" = 107 ]
	cni host-device DEL $NSA net1 "$C"
}
