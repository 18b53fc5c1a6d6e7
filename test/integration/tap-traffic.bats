#!/usr/bin/env bats
# Real traffic through a tap made by the tap plugin: socat plays the VM,
# attaching to the persistent tap (TUNSETIFF by name) and relaying its frames
# to a veth whose peer sits in a second namespace ("the VM's network").
load helpers

setup() {
	setup_common
	export CNI_PATH="$BIN"
	netns_new tq$TID
	netns_new tv$TID
	NS=/run/netns/tq$TID
	NET=10.$((100 + RANDOM % 50)).$((RANDOM % 256))
}
teardown() { teardown_common; }

@test "tap: frames flow between the container's tap and a process attached to it" {
	C='{"cniVersion":"1.1.0","name":"tq'$TID'","type":"tap","ipam":{"type":"host-local","subnet":"'$NET'.0/24","dataDir":"'$TMP/ipam'"}}'
	run cni tap ADD "$NS" tap0 "$C"
	[ "$status" -eq 0 ]
	on_cleanup "printf '%s' '$C' | CNI_COMMAND=DEL CNI_CONTAINERID=ctr-$TID CNI_NETNS=$NS CNI_IFNAME=tap0 CNI_PATH=$BIN $BIN/tap"
	[ "$(json_get "$output" '.ips[0].address')" = "$NET.2/24" ]
	# without a reader the tap has no carrier: nothing can pass yet
	ip -n tq$TID link show tap0 | grep -q NO-CARRIER
	ip -n tq$TID link add vma type veth peer name vmb netns tv$TID
	ip -n tq$TID link set vma up
	ip -n tv$TID link set vmb up
	ip -n tv$TID addr add "$NET.200/24" dev vmb
	! ip netns exec tq$TID ping -c1 -W1 "$NET.200" || false
	ip netns exec tq$TID socat -b 65536 INTERFACE:vma TUN,tun-name=tap0,tun-type=tap,iff-no-pi &
	on_cleanup "kill $!"
	for _ in $(seq 50); do ip -n tq$TID link show tap0 | grep -q LOWER_UP && break; sleep 0.1; done
	ip netns exec tq$TID ping -c2 -W2 "$NET.200"
	# and back: the VM side reaches the container's IPAM address
	ip netns exec tv$TID ping -c1 -W2 "$NET.2"
	run cni tap DEL "$NS" tap0 "$C"
	[ "$status" -eq 0 ]
	! ip -n tq$TID link show tap0 || false
}
