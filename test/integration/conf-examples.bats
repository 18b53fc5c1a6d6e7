#!/usr/bin/env bats
# Every conflist in conf-examples/ works as shipped, through cnitool:
# names, subnets, the data dir and the macvlan/ipvlan master are rewritten
# to objects of this test so it never touches the machine's networks.
load helpers

setup() {
	setup_common
	netns_new "cx-$TID"
	NS=/run/netns/cx-$TID
	export CNI_CACHE_DIR=$TMP/cache NETCONFPATH=$TMP/conf
	mkdir -p "$NETCONFPATH"
	A=$((160 + RANDOM % 40)); B=$((RANDOM % 256))
	PORT=$((30000 + RANDOM % 5000))
}
teardown() {
	[ -f "$CLEANUP.first" ] && tac "$CLEANUP.first" >> "$CLEANUP"
	teardown_common
	# the network must not outlive the test in table inet cni_c
	! nft list table inet cni_c 2>/dev/null | grep -q "_ex$TID " || false
}

# rewrite FILE -> $NETCONFPATH/x.conflist; prints the network name
prepare() {
	local f=$REPO/conf-examples/$1 name=ex$TID
	jq --arg name "$name" --arg br "cx$TID" --arg s4 "10.$A.$B.0/24" --arg s6 "fd00:${TID:0:4}:${TID:4:2}::/64" \
		--arg dd "$TMP/ipam" --arg master "${MASTER:-}" '
		.name = $name
		| .plugins |= map(
			(if has("bridge") then .bridge = $br else . end)
			| (if has("master") then .master = $master else . end)
			| (if .ipam.ranges then
				.ipam.dataDir = $dd
				| .ipam.ranges |= map(map(if (.subnet | test(":")) then {subnet: $s6} else {subnet: $s4} end))
			   else . end))' "$f" > "$NETCONFPATH/x.conflist"
	on_cleanup "ip link del cx$TID"
	# last: GC with an empty valid list drops the network's nft sets/rules and records
	echo "CNI_VALID_ATTACHMENTS='[]' CNI_CACHE_DIR=$CNI_CACHE_DIR NETCONFPATH=$NETCONFPATH CNI_PATH=$BIN $BIN/cnitool gc $name" >> "$CLEANUP.first"
	echo "$name"
}

run_example() { # file
	local net
	net=$(prepare "$1")
	export CAP_ARGS='{"portMappings":[{"hostPort":'$PORT',"containerPort":80,"protocol":"tcp"}]'${EXTRA_CAPS:+,$EXTRA_CAPS}'}'
	on_cleanup "CNI_CACHE_DIR=$CNI_CACHE_DIR NETCONFPATH=$NETCONFPATH CNI_PATH=$BIN $BIN/cnitool del $net $NS"
	run "$BIN/cnitool" add "$net" "$NS"
	echo "$output"
	[ "$status" -eq 0 ]
	ADD_OUT=$output
	ADDR=$(json_get "$output" '[.ips[] | select(.address | test("\\.")) | .address][0] | split("/")[0]')
	GW=$(json_get "$output" '[.ips[] | select(.address | test("\\.")) | .gateway][0]')
	[[ "$ADDR" == 10.$A.$B.* ]]
	run "$BIN/cnitool" check "$net" "$NS"
	echo "$output"; [ "$status" -eq 0 ]
}

del_example() {
	run "$BIN/cnitool" del "ex$TID" "$NS"
	echo "$output"; [ "$status" -eq 0 ]
	[ -z "$(ls "$TMP/ipam/ex$TID" 2>/dev/null | grep -E '^[0-9a-f]+[.:]')" ]
	[ -z "$(ls "$CNI_CACHE_DIR/results" 2>/dev/null)" ]
}

@test "10-docker0: gateway reachable, outbound route, published port" {
	run_example 10-docker0.conflist
	ip netns exec "cx-$TID" ping -c1 -W2 "$GW"
	ip -n "cx-$TID" route | grep -q "^default via $GW"
	nft -j list map inet cni_c pm4 | jq -e --argjson p "$PORT" '[.nftables[].map.elem // [] | .[] | tostring | select(contains("\($p)"))] | length > 0'
	del_example
	[ "$(ip -br link show master cx$TID | wc -l)" = 0 ]
}

@test "20-isolated: containers on the bridge cannot reach each other, the gateway yes" {
	run_example 20-isolated.conflist
	first=$ADDR
	netns_new "cy-$TID"
	on_cleanup "CNI_CACHE_DIR=$CNI_CACHE_DIR NETCONFPATH=$NETCONFPATH CNI_PATH=$BIN $BIN/cnitool del ex$TID /run/netns/cy-$TID"
	# the same host port is refused (owned by the first container) ...
	run "$BIN/cnitool" add "ex$TID" "/run/netns/cy-$TID"
	[ "$status" -ne 0 ]
	[[ "$output" == *"already allocated"* ]]
	run "$BIN/cnitool" del "ex$TID" "/run/netns/cy-$TID"; [ "$status" -eq 0 ]
	# ... another one is fine
	CAP_ARGS='{"portMappings":[{"hostPort":'$((PORT + 1))',"containerPort":80,"protocol":"tcp"}]}' \
		run "$BIN/cnitool" add "ex$TID" "/run/netns/cy-$TID"
	echo "$output"; [ "$status" -eq 0 ]
	ip netns exec "cy-$TID" ping -c1 -W2 "$GW"
	! ip netns exec "cy-$TID" ping -c1 -W1 "$first" || false
	run "$BIN/cnitool" del "ex$TID" "/run/netns/cy-$TID"; [ "$status" -eq 0 ]
	del_example
}

@test "30-internal: no default route, no masquerade element, gateway reachable" {
	run_example 30-internal.conflist
	ip netns exec "cx-$TID" ping -c1 -W2 "$GW"
	! ip -n "cx-$TID" route | grep -q '^default' || false
	! nft -j list table inet cni_c 2>/dev/null | grep -q "ex$TID/" || false
	del_example
}

@test "40-dualstack: one address per family, both gateways reachable" {
	run_example 40-dualstack.conflist
	[ "$(json_get "$ADD_OUT" '.ips | length')" = 2 ]
	ip netns exec "cx-$TID" ping -c1 -W2 "$GW"
	ip netns exec "cx-$TID" ping -6 -c1 -W2 "fd00:${TID:0:4}:${TID:4:2}::1"
	del_example
}

@test "50-macvlan: two containers on one parent reach each other" {
	ip link add "cm$TID" type veth peer name "cn$TID"
	on_cleanup "ip link del cm$TID"
	ip link set "cm$TID" up; ip link set "cn$TID" up
	MASTER=cm$TID run_example 50-macvlan.conflist
	first=$ADDR
	netns_new "cy-$TID"
	on_cleanup "CNI_CACHE_DIR=$CNI_CACHE_DIR NETCONFPATH=$NETCONFPATH CNI_PATH=$BIN $BIN/cnitool del ex$TID /run/netns/cy-$TID"
	run "$BIN/cnitool" add "ex$TID" "/run/netns/cy-$TID"
	[ "$status" -eq 0 ]
	ip netns exec "cy-$TID" ping -c1 -W2 "$first"
	run "$BIN/cnitool" del "ex$TID" "/run/netns/cy-$TID"; [ "$status" -eq 0 ]
	del_example
}

@test "60-ipvlan: refused here with the missing driver named (tested for real in the netlab)" {
	if grep -qw ipvlan /proc/modules 2>/dev/null || [ -d /sys/module/ipvlan ]; then
		skip "this kernel has ipvlan: covered by ipvlan.bats"
	fi
	ip link add "cm$TID" type veth peer name "cn$TID"
	on_cleanup "ip link del cm$TID"
	net=$(MASTER=cm$TID prepare 60-ipvlan.conflist)
	run "$BIN/cnitool" add "$net" "$NS"
	[ "$status" -ne 0 ]
	[[ "$output" == *ipvlan* ]]
	[ -z "$(ls "$TMP/ipam/$net" 2>/dev/null | grep -E '^[0-9]')" ]
}

@test "70-ptp: host route to the container, gateway reachable" {
	run_example 70-ptp.conflist
	ip route get "$ADDR" | grep -q "dev veth"
	ip netns exec "cx-$TID" ping -c1 -W2 "$GW"
	del_example
}

@test "80-limited: rate limits from the runtime's bandwidth capability, container sysctls" {
	EXTRA_CAPS='"bandwidth":{"ingressRate":8000000,"ingressBurst":80000,"egressRate":16000000,"egressBurst":160000}'
	run_example 80-limited.conflist
	HV=$(json_get "$ADD_OUT" '.interfaces[1].name')
	IFB=$(json_get "$ADD_OUT" '[.interfaces[] | select(.name | startswith("bwp"))][0].name')
	on_cleanup "ip link del $IFB"
	tc -j qdisc show dev "$HV" | jq -e '.[] | select(.kind == "tbf" and .options.rate == 1000000)' >/dev/null
	tc -j qdisc show dev "$IFB" | jq -e '.[] | select(.kind == "tbf" and .options.rate == 2000000)' >/dev/null
	[ "$(ip netns exec "cx-$TID" cat /proc/sys/net/core/somaxconn)" = 4096 ]
	[ "$(ip netns exec "cx-$TID" cat /proc/sys/net/ipv4/conf/eth0/arp_filter)" = 1 ]
	ip netns exec "cx-$TID" ping -c1 -W2 "$GW"
	del_example
	! ip link show "$IFB" 2>/dev/null || false
}
