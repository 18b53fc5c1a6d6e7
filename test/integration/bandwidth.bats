#!/usr/bin/env bats
# bandwidth (reference section 2.8) with real namespaces: a netns plays the
# host (the plugin runs there), a veth joins it to the container netns.
# Traffic is timed through the limits; qdisc parameters are compared with
# what the reference binary (/usr/lib/cni/bandwidth) makes of the same
# config, and each suite's CHECK is run on the other's qdiscs.
load helpers

REF=/usr/lib/cni/bandwidth

setup() {
	setup_common
	require_root
	H=nbh-$TID
	netns_new "$H"
	netns_new "nbc-$TID"
	NS=/run/netns/nbc-$TID
	HV=hv$TID
	NET3=10.$((100 + 0x${TID:0:2} % 100)).$((0x${TID:2:2}))
	ip -n "$H" link add "$HV" type veth peer name eth0 netns "nbc-$TID"
	ip -n "$H" addr add "$NET3.1/24" dev "$HV"
	ip -n "$H" link set "$HV" up
	ip -n "nbc-$TID" addr add "$NET3.2/24" dev eth0
	ip -n "nbc-$TID" link set eth0 up
	PREV="{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"$HV\"},{\"name\":\"eth0\",\"sandbox\":\"$NS\"}],\"ips\":[{\"interface\":1,\"address\":\"$NET3.2/24\"}]}"
}
teardown() { teardown_common; }

# conf VERSION EXTRA-JSON [PREV]
conf() {
	printf '{"cniVersion":"%s","name":"bw%s","type":"bandwidth"%s,"prevResult":%s}' "$1" "$TID" "${2:+,$2}" "${3:-$PREV}"
}
# hcni PLUGIN-PATH CMD CONF [CID]: run a plugin in the "host" netns
hcni() {
	printf '%s' "$3" | ip netns exec "$H" env CNI_COMMAND="$2" CNI_CONTAINERID="${4:-ctr-$TID}" CNI_NETNS="$NS" \
		CNI_IFNAME=eth0 CNI_PATH="$BIN" CNI_ARGS= "$1"
}
qd() { ip netns exec "$H" tc -j qdisc show dev "$1"; }
tbf_of() { qd "$1" | jq -c '[.[] | select(.kind == "tbf" and .root == true) | .options | {rate, burst, lat}] | .[0]'; }
LIMITS='"ingressRate":8000000,"ingressBurst":80000,"egressRate":16000000,"egressBurst":160000'

# seconds (ms) to send $2 bytes from netns $1 to $3:$4, received in netns $5
xfer_ms() {
	ip netns exec "$5" socat -u "TCP-LISTEN:$4,reuseaddr" OPEN:/dev/null &
	local srv=$! i
	for i in $(seq 50); do ip netns exec "$5" ss -Hltn "sport = :$4" | grep -q . && break; sleep 0.05; done
	local t0 t1
	t0=$(date +%s%N)
	head -c "$2" /dev/zero | ip netns exec "$1" socat -u - "TCP:$3:$4"
	wait $srv
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

@test "bandwidth: ADD limits both directions (traffic timed), result lists the ifb; CHECK; DEL removes the ifb" {
	run hcni "$BIN/bandwidth" ADD "$(conf 1.0.0 "$LIMITS")"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	IFB=$(json_get "$output" '.interfaces[2].name')
	[[ "$IFB" == bwp???????????? ]]
	[ "$(json_get "$output" '.interfaces[2].mac')" = "$(ip -n "$H" -j link show "$IFB" | jq -r '.[0].address')" ]
	[ "$(json_get "$output" '.ips[0].address')" = "$NET3.2/24" ]
	# traffic to the container: 1 MB/s, 2 MB take ~2 s (unlimited: ~10 ms)
	ms=$(xfer_ms "$H" 2000000 "$NET3.2" 25001 "nbc-$TID")
	echo "to the container: $ms ms"
	[ "$ms" -gt 1400 ]; [ "$ms" -lt 6000 ]
	# traffic from the container: 2 MB/s through the ifb
	ms=$(xfer_ms "nbc-$TID" 2000000 "$NET3.1" 25002 "$H")
	echo "from the container: $ms ms"
	[ "$ms" -gt 650 ]; [ "$ms" -lt 4000 ]
	# the ifb names its owner (for GC)
	[ "$(ip -n "$H" -j link show "$IFB" | jq -r ".[0].ifalias")" = "cni-c:bandwidth:bw$TID:ctr-$TID" ]
	run hcni "$BIN/bandwidth" CHECK "$(conf 1.0.0 "$LIMITS")"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run hcni "$BIN/bandwidth" DEL "$(conf 1.0.0 "$LIMITS")"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	! ip -n "$H" link show "$IFB" 2>/dev/null || false
	run hcni "$BIN/bandwidth" DEL "$(conf 1.0.0 "$LIMITS")"
	[ "$status" -eq 0 ]
}

@test "bandwidth: same qdiscs and ifb name as the reference; each CHECK accepts the other's" {
	[ -x "$REF" ] || skip "reference bandwidth not installed (containernetworking-plugins)"
	C=$(conf 1.0.0 "$LIMITS")
	run hcni "$REF" ADD "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	RIFB=$(json_get "$output" '.interfaces[2].name')
	RIN=$(tbf_of "$HV"); ROUT=$(tbf_of "$RIFB")
	run hcni "$BIN/bandwidth" CHECK "$C"
	[ "$status" -eq 0 ] || { echo "our CHECK on theirs: $output"; false; }
	run hcni "$REF" DEL "$C"
	[ "$status" -eq 0 ]
	ip netns exec "$H" tc qdisc del dev "$HV" root
	ip netns exec "$H" tc qdisc del dev "$HV" ingress
	run hcni "$BIN/bandwidth" ADD "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	IFB=$(json_get "$output" '.interfaces[2].name')
	[ "$IFB" = "$RIFB" ]
	[ "$(tbf_of "$HV")" = "$RIN" ] || { echo "ours $(tbf_of "$HV") theirs $RIN"; false; }
	[ "$(tbf_of "$IFB")" = "$ROUT" ] || { echo "ours $(tbf_of "$IFB") theirs $ROUT"; false; }
	run hcni "$REF" CHECK "$C"
	[ "$status" -eq 0 ] || { echo "their CHECK on ours: $output"; false; }
	# a changed rate is found
	ip netns exec "$H" tc qdisc change dev "$IFB" root tbf rate 1mbit burst 20000 latency 25ms
	run hcni "$BIN/bandwidth" CHECK "$C"
	[ "$status" -ne 0 ]
	echo "$output" | jq -r .msg | grep -q "Rate doesn't match on $IFB"
	hcni "$BIN/bandwidth" DEL "$C"
}

@test "bandwidth: runtimeConfig.bandwidth applies when the config has no limit keys; all zero passes prevResult through" {
	RC='"runtimeConfig":{"bandwidth":{"ingressRate":8000000,"ingressBurst":80000}}'
	run hcni "$BIN/bandwidth" ADD "$(conf 1.0.0 "$RC")"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(tbf_of "$HV" | jq -r .rate)" = 1000000 ]
	[ "$(json_get "$output" '.interfaces|length')" = 2 ] # no egress limit, no ifb
	hcni "$BIN/bandwidth" DEL "$(conf 1.0.0 "$RC")"
	ip netns exec "$H" tc qdisc del dev "$HV" root
	# a static key wins over runtimeConfig
	run hcni "$BIN/bandwidth" ADD "$(conf 1.0.0 "$RC,\"ingressRate\":16000000,\"ingressBurst\":80000")"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(tbf_of "$HV" | jq -r .rate)" = 2000000 ]
	ip netns exec "$H" tc qdisc del dev "$HV" root
	# nothing asked: prevResult through, nothing made
	run hcni "$BIN/bandwidth" ADD "$(conf 0.4.0 '"ingressRate":0' "$(printf '%s' "$PREV" | jq -c '.cniVersion = "0.4.0"')")"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(json_get "$output" .cniVersion)" = 0.4.0 ]
	[ "$(json_get "$output" '.ips[0].address')" = "$NET3.2/24" ]
	[ "$(tbf_of "$HV")" = null ]
	# below 0.3.0: refused, as the reference
	run hcni "$BIN/bandwidth" ADD "$(conf 0.2.0 "$LIMITS" '{"cniVersion":"0.2.0","ip4":{"ip":"10.1.1.2/24"}}')"
	[ "$status" -ne 0 ]
	echo "$output" | jq -e '.code == 1' >/dev/null
}

@test "bandwidth: bad input is refused naming the key; a failed ADD leaves no qdisc or ifb" {
	err() { # fragment conf
		run hcni "$BIN/bandwidth" ADD "$2"
		[ "$status" -ne 0 ] || { echo "accepted: $2"; false; }
		echo "$output" | jq -r .msg | grep -qF -- "$1" || { echo "$output"; false; }
	}
	err "if rate is set, burst must also be set (ingressRate 1000, ingressBurst 0)" "$(conf 1.0.0 '"ingressRate":1000')"
	err "if burst is set, rate must also be set (egressBurst 1000, egressRate 0)" "$(conf 1.0.0 '"egressBurst":1000')"
	err "burst cannot be more than 4GB" "$(conf 1.0.0 '"ingressRate":1000,"ingressBurst":40000000000')"
	err "ingressRate must be a non-negative integer" "$(conf 1.0.0 '"ingressRate":-5,"ingressBurst":1')"
	err "must be called as chained plugin" \
		"{\"cniVersion\":\"1.0.0\",\"name\":\"bw$TID\",\"type\":\"bandwidth\",$LIMITS}"
	err "no veth peer of container interface found in host ns" \
		"$(conf 1.0.0 "$LIMITS" '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"'$NS'"}]}')"
	ip -n "nbc-$TID" link add eth9 type veth peer name eth8
	run sh -c "printf '%s' '$(conf 1.0.0 "$LIMITS")' | ip netns exec $H env CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_NETNS=$NS CNI_IFNAME=lo CNI_PATH=$BIN $BIN/bandwidth"
	[ "$status" -ne 0 ]
	echo "$output" | jq -r .msg | grep -q "container interface lo has no veth peer"
	[ "$(tbf_of "$HV")" = null ]
	# the ifb name is taken: the ingress tbf already made is removed again
	run hcni "$BIN/bandwidth" ADD "$(conf 1.0.0 "$LIMITS")"
	[ "$status" -eq 0 ]
	IFB=$(json_get "$output" '.interfaces[2].name')
	hcni "$BIN/bandwidth" DEL "$(conf 1.0.0 "$LIMITS")"
	ip netns exec "$H" tc qdisc del dev "$HV" root
	ip netns exec "$H" tc qdisc del dev "$HV" ingress
	ip -n "$H" link add "$IFB" type veth peer name "x$TID"
	run hcni "$BIN/bandwidth" ADD "$(conf 1.0.0 "$LIMITS")"
	[ "$status" -ne 0 ]
	echo "$output" | jq -r .msg | grep -q "adding link: ifb $IFB"
	[ "$(tbf_of "$HV")" = null ]
	[ "$(qd "$HV" | jq '[.[] | select(.kind == "ingress")] | length')" = 0 ]
}

@test "bandwidth: another tool's ingress or clsact qdisc on the host end is refused by name, kept, and nothing else is left" {
	for kind in ingress clsact; do
		ip netns exec "$H" tc qdisc add dev "$HV" $kind
		run hcni "$BIN/bandwidth" ADD "$(conf 1.0.0 "$LIMITS")"
		[ "$status" -ne 0 ] || { echo "$kind: accepted"; false; }
		echo "$output" | jq -e '.code == 106' >/dev/null
		echo "$output" | jq -r .msg | grep -qF "host interface $HV already has an $kind qdisc (another tool's)"
		# its qdisc is untouched, our tbf and ifb are gone again
		[ "$(qd "$HV" | jq --arg k "$kind" '[.[] | select(.kind == $k)] | length')" = 1 ]
		[ "$(tbf_of "$HV")" = null ]
		[ -z "$(ip -n "$H" -o link show type ifb)" ]
		ip netns exec "$H" tc qdisc del dev "$HV" $kind
	done
	# an ingress limit alone does not need the hook
	ip netns exec "$H" tc qdisc add dev "$HV" clsact
	run hcni "$BIN/bandwidth" ADD "$(conf 1.0.0 '"ingressRate":8000000,"ingressBurst":80000')"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(tbf_of "$HV" | jq -r .rate)" = 1000000 ]
}

@test "bandwidth: GC deletes the ifbs of this network's stale attachments only" {
	ip -n "nbc-$TID" link add eth1 type veth peer name hw1 netns "$H"
	ip -n "nbc-$TID" link add eth2 type veth peer name hw2 netns "$H"
	E='"egressRate":16000000,"egressBurst":160000'
	add() { # cid host-veth ifname netname
		local p c
		p="{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"$2\"},{\"name\":\"$3\",\"sandbox\":\"$NS\"}]}"
		c=$(conf 1.0.0 "$E" "$p" | jq -c --arg n "$4" '.name = $n')
		printf '%s' "$c" | ip netns exec "$H" env CNI_COMMAND=ADD CNI_CONTAINERID="$1" CNI_NETNS="$NS" CNI_IFNAME="$3" \
			CNI_PATH="$BIN" "$BIN/bandwidth" | jq -r '.interfaces[2].name'
	}
	A=$(add a-$TID "$HV" eth0 "bw$TID"); B=$(add b-$TID hw1 eth1 "bw$TID"); O=$(add c-$TID hw2 eth2 "other$TID")
	for i in "$A" "$B" "$O"; do
		[[ "$i" == bwp???????????? ]]
		ip -n "$H" link show "$i" >/dev/null
	done
	G=$(conf 1.1.0 "$E" | jq -c --arg a "a-$TID" 'del(.prevResult) + {"cni.dev/valid-attachments": [{containerID: $a, ifname: "eth0"}]}')
	run sh -c "printf '%s' '$G' | ip netns exec $H env CNI_COMMAND=GC CNI_PATH=$BIN $BIN/bandwidth"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	ip -n "$H" link show "$A" >/dev/null
	! ip -n "$H" link show "$B" 2>/dev/null || false
	ip -n "$H" link show "$O" >/dev/null
}
