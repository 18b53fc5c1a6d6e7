#!/usr/bin/env bats
# bridge plugin (reference section 2.1, scenarios 3.3 items 8-20) with real
# namespaces. Every test has its own bridge (cb$TID), namespaces, private
# subnet, host-local dataDir under $TMP, and removes all of it.
load helpers

setup() {
	setup_common
	require_root
	BR=cb$TID
	SUBNET_B=$((200 + 0x${TID:0:2} % 50)).$((0x${TID:2:2}))
	NET4=10.$SUBNET_B
	NET6=fd9c:$(printf %x 0x${TID:0:4}):$(printf %x 0x${TID:4:2})
	DATA=$TMP/ipam
	# our binaries first, the reference IPAM (Debian) as fallback
	export CNI_PATH="$BIN:/usr/lib/cni"
	on_cleanup "ip link del $BR"
}
teardown() { teardown_common; }

# conf VERSION EXTRA-JSON [IPAM-JSON]
conf() {
	local ver=$1 extra=${2:-} ipam=${3:-}
	[ -n "$ipam" ] || ipam="{\"type\":\"host-local\",\"subnet\":\"$NET4.0/24\",\"dataDir\":\"$DATA\"}"
	printf '{"cniVersion":"%s","name":"net%s","type":"bridge","bridge":"%s"%s,"ipam":%s}' \
		"$ver" "$TID" "$BR" "${extra:+,$extra}" "$ipam"
}

# ns NAME: make a netns named n<NAME>-$TID, prints its path
mkns() { netns_new "n$1-$TID"; echo "/run/netns/n$1-$TID"; }

# reservation files of the network
leases() { ls "$DATA/net$TID" 2>/dev/null | grep -Evc '^(lock|last_reserved_ip\..*)$' || true; }

# host links on our bridge
ports() { ip -o link show master "$BR" 2>/dev/null | wc -l; }

# A fake IPAM that prints $FAKE_IPAM/result on ADD and logs every call.
fake_ipam() {
	mkdir -p "$TMP/fbin"
	cat > "$TMP/fbin/fake-ipam" <<-EOF
	#!/bin/sh
	echo "\$CNI_COMMAND \$CNI_CONTAINERID" >> "$TMP/fake.log"
	cat > /dev/null
	[ "\$CNI_COMMAND" = ADD ] && cat "$TMP/fake.result"
	exit 0
	EOF
	chmod +x "$TMP/fbin/fake-ipam"
	export CNI_PATH="$BIN:$TMP/fbin:/usr/lib/cni"
}

@test "bridge: ADD creates the bridge, result shape, containers reach each other and the gateway" {
	A=$(mkns a); B=$(mkns b)
	C=$(conf 1.0.0 '"isDefaultGateway":true')
	run cni bridge ADD "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(json_get "$output" '.interfaces|length')" = 3 ]
	[ "$(json_get "$output" '.interfaces[0].name')" = "$BR" ]
	[[ "$(json_get "$output" '.interfaces[1].name')" == veth???????? ]]
	[ "$(json_get "$output" '.interfaces[1].sandbox')" = null ]
	[ "$(json_get "$output" '.interfaces[2].name')" = eth0 ]
	[ "$(json_get "$output" '.interfaces[2].sandbox')" = "$A" ]
	[ "$(json_get "$output" '.ips[0].interface')" = 2 ]
	[ "$(json_get "$output" '.ips[0].address')" = "$NET4.2/24" ]
	[ "$(json_get "$output" '.ips[0].gateway')" = "$NET4.1" ]
	[ "$(json_get "$output" '.routes[0].dst')" = 0.0.0.0/0 ]
	[ "$(json_get "$output" '.routes[0].gw')" = "$NET4.1" ]
	hostveth=$(json_get "$output" '.interfaces[1].name')
	# MACs in the result are the kernel's
	[ "$(json_get "$output" '.interfaces[0].mac')" = "$(cat /sys/class/net/$BR/address)" ]
	[ "$(json_get "$output" '.interfaces[1].mac')" = "$(cat /sys/class/net/$hostveth/address)" ]
	[ "$(json_get "$output" '.interfaces[2].mac')" = "$(ip netns exec n-a-$TID cat /sys/class/net/eth0/address 2>/dev/null || ip -n na-$TID -j link show eth0 | jq -r '.[0].address')" ]
	ip -d -j link show "$BR" | jq -e '.[0].linkinfo.info_kind == "bridge"'
	ip -j link show "$hostveth" | jq -e ".[0].master == \"$BR\""
	# host end: no IPv6 link-local, one queue
	ip -d -j link show "$hostveth" | jq -e '.[0].num_tx_queues == 1 and .[0].num_rx_queues == 1'
	[ -z "$(ip -6 addr show dev "$hostveth")" ]
	ip -n na-$TID route show default | grep -q "via $NET4.1 dev eth0"
	run cni bridge ADD "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(json_get "$output" '.ips[0].address')" = "$NET4.3/24" ]
	[ "$(ports)" = 2 ]
	ip netns exec na-$TID ping -c1 -W2 "$NET4.1"
	ip netns exec na-$TID ping -c1 -W2 "$NET4.3"
	ip netns exec nb-$TID ping -c1 -W2 "$NET4.2"
	run cni bridge DEL "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ]
	run cni bridge DEL "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ]
	[ "$(ports)" = 0 ]
	[ "$(leases)" = 0 ]
	! ip -n na-$TID link show eth0 || false
	# the bridge and its gateway address stay (as the reference)
	ip addr show "$BR" | grep -q "$NET4.1/24"
}

@test "bridge: every result version 0.1.0 ... 1.0.0 (host-local) and 1.1.0 (with mtu)" {
	A=$(mkns a)
	for v in 0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0; do
		C=$(conf $v '"isGateway":true')
		run cni bridge ADD "$A" eth0 "$C"
		[ "$status" -eq 0 ] || { echo "$v: $output"; false; }
		case $v in
		0.1.0|0.2.0)
			[[ "$(json_get "$output" '.ip4.ip')" == "$NET4".*/24 ]] || { echo "$output"; false; }
			[ "$(json_get "$output" '.interfaces')" = null ] ;;
		0.3.0|0.3.1|0.4.0)
			[ "$(json_get "$output" '.ips[0].version')" = 4 ]
			[ "$(json_get "$output" '.ips[0].interface')" = 2 ]
			[ "$(json_get "$output" '.interfaces[2].mtu')" = null ] ;;
		1.0.0)
			[ "$(json_get "$output" '.ips[0].version')" = null ]
			[ "$(json_get "$output" '.interfaces|length')" = 3 ] ;;
		esac
		run cni bridge DEL "$A" eth0 "$C"
		[ "$status" -eq 0 ]
	done
	fake_ipam
	echo "{\"cniVersion\":\"1.1.0\",\"ips\":[{\"address\":\"$NET4.9/24\",\"gateway\":\"$NET4.1\"}],\"routes\":[{\"dst\":\"10.99.0.0/16\",\"priority\":7}]}" > "$TMP/fake.result"
	C=$(conf 1.1.0 '"mtu":1400' '{"type":"fake-ipam"}')
	run cni bridge ADD "$A" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(json_get "$output" '.interfaces[2].mtu')" = 1400 ]
	[ "$(json_get "$output" '.interfaces[1].mtu')" = 1400 ]
	[ "$(json_get "$output" '.routes[0].priority')" = 7 ]
	# the route's priority and the family gateway were applied
	ip -n na-$TID route show 10.99.0.0/16 | grep -q "via $NET4.1 dev eth0 metric 7"
	run cni bridge DEL "$A" eth0 "$C"
	[ "$status" -eq 0 ]
	grep -q "^DEL " "$TMP/fake.log"
}

@test "bridge: isGateway sets forwarding; a different IPv4 address needs forceAddress" {
	A=$(mkns a)
	ip link add "$BR" type bridge
	ip addr add "$NET4.77/24" dev "$BR"
	C=$(conf 1.0.0 '"isGateway":true')
	run cni bridge ADD "$A" eth0 "$C"
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *"\"$BR\" already has an IP address different from $NET4.1/24"* ]]
	[ "$(ports)" = 0 ]; [ "$(leases)" = 0 ]
	C=$(conf 1.0.0 '"isGateway":true,"forceAddress":true')
	run cni bridge ADD "$A" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	ip addr show "$BR" | grep -q "$NET4.1/24"
	! ip addr show "$BR" | grep -q "$NET4.77/24" || false
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
	ip netns exec na-$TID ping -c1 -W2 "$NET4.1"
	run cni bridge DEL "$A" eth0 "$C"
	[ "$status" -eq 0 ]
}

@test "bridge: dual stack, IPv6 DAD off by default, enabledad waits for DAD" {
	A=$(mkns a); B=$(mkns b); O=$(mkns out)
	IPAM="{\"type\":\"host-local\",\"dataDir\":\"$DATA\",\"ranges\":[[{\"subnet\":\"$NET4.0/24\"}],[{\"subnet\":\"$NET6::/64\"}]]}"
	C=$(conf 1.0.0 '"isDefaultGateway":true' "$IPAM")
	# an "outside" netns routed to the network through the host (links
	# without DAD, so only the bridge's own start-up is under test)
	OUT6=fd9e:$(printf %x 0x${TID:0:4}):$(printf %x 0x${TID:4:2})
	ip link add o$TID type veth peer name eth0 netns nout-$TID
	on_cleanup "ip link del o$TID"
	sysctl -qw net.ipv6.conf.o$TID.accept_dad=0
	ip netns exec nout-$TID sysctl -qw net.ipv6.conf.eth0.accept_dad=0
	ip addr add $OUT6::1/64 dev o$TID nodad; ip link set o$TID up
	ip -n nout-$TID addr add $OUT6::2/64 dev eth0 nodad; ip -n nout-$TID link set eth0 up
	ip -n nout-$TID route add $NET6::/64 via $OUT6::1
	run cni bridge ADD "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# Inbound-first IPv6 right after the ADD that created the bridge. With
	# DAD on the bridge's own link-local address (the kernel default, and
	# the reference) the host sends no neighbour solicitation for forwarded
	# packets until DAD is over: the first reply took ~2 s.
	ip netns exec nout-$TID ping -6 -n -i 0.05 -c1 -w1 "$NET6::2"
	[ "$(cat /proc/sys/net/ipv6/conf/$BR/accept_dad)" = 0 ]
	! ip -6 addr show dev "$BR" scope link | grep -q tentative || false
	[ "$(json_get "$output" '.ips|length')" = 2 ]
	[ "$(json_get "$output" '.ips[1].address')" = "$NET6::2/64" ]
	[ "$(ip netns exec na-$TID cat /proc/sys/net/ipv6/conf/eth0/accept_dad)" = 0 ]
	ip addr show "$BR" | grep -q "$NET6::1/64"
	# the gateway address is usable at once (no DAD on it)
	! ip -6 addr show dev "$BR" | grep "$NET6::1/64" | grep -q tentative || false
	ip -n na-$TID -6 route show default | grep -q "via $NET6::1"
	! ip -n na-$TID -6 addr show dev eth0 | grep -q tentative || false
	ip netns exec na-$TID ping -6 -c1 -W2 "$NET6::1"
	ip netns exec na-$TID ping -c1 -W2 "$NET4.1"
	C2=$(conf 1.0.0 '"isDefaultGateway":true,"enabledad":true' "$IPAM")
	run cni bridge ADD "$B" eth0 "$C2" cb-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(ip netns exec nb-$TID cat /proc/sys/net/ipv6/conf/eth0/accept_dad)" = 1 ]
	! ip -n nb-$TID -6 addr show dev eth0 | grep -q tentative || false
	ip netns exec nb-$TID ping -6 -c1 -W2 "$NET6::2"
	cni bridge DEL "$A" eth0 "$C" ca-$TID
	cni bridge DEL "$B" eth0 "$C2" cb-$TID
	[ "$(leases)" = 0 ]
}

@test "bridge: L2 mode, disableContainerInterface, and IPAM with it is refused" {
	A=$(mkns a); B=$(mkns b)
	C=$(conf 1.0.0 '' '{}')
	run cni bridge ADD "$A" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(json_get "$output" '.ips')" = null ]
	[ "$(json_get "$output" '.interfaces|length')" = 3 ]
	ip -n na-$TID -j link show eth0 | jq -e '.[0].flags|index("UP")'
	[ -z "$(ip -n na-$TID -4 addr show dev eth0)" ]
	# CHECK works in L2 mode (the reference fails it)
	P=$(printf '%s' "$output" | jq -c .)
	run cni bridge CHECK "$A" eth0 "$(printf '%s' "$C" | jq -c ". + {prevResult: $P}")"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	cni bridge DEL "$A" eth0 "$C"
	C=$(conf 1.0.0 '"disableContainerInterface":true' '{}')
	run cni bridge ADD "$B" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	! ip -n nb-$TID -j link show eth0 | jq -e '.[0].flags|index("UP")' || false
	cni bridge DEL "$B" eth0 "$C"
	C=$(conf 1.0.0 '"disableContainerInterface":true')
	run cni bridge ADD "$B" eth0 "$C"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .msg)" = "cannot use IPAM when DisableContainerInterface flag is set" ]
}

@test "bridge: hairpin, promisc, both refused, portIsolation blocks container-to-container" {
	A=$(mkns a); B=$(mkns b)
	run cni bridge ADD "$A" eth0 "$(conf 1.0.0 '"hairpinMode":true,"promiscMode":true')"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .msg)" = "cannot set hairpin mode and promiscuous mode at the same time" ]
	C=$(conf 1.0.0 '"isGateway":true,"hairpinMode":true,"portIsolation":true')
	run cni bridge ADD "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	h=$(json_get "$output" '.interfaces[1].name')
	ip -d -j link show "$h" | jq -e '.[0].linkinfo.info_slave_data.hairpin == true and .[0].linkinfo.info_slave_data.isolated == true'
	run cni bridge ADD "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ]
	ip netns exec na-$TID ping -c1 -W2 "$NET4.1"
	ip netns exec nb-$TID ping -c1 -W2 "$NET4.1"
	! ip netns exec na-$TID ping -c1 -W1 "$NET4.3" || false
	cni bridge DEL "$A" eth0 "$C" ca-$TID
	cni bridge DEL "$B" eth0 "$C" cb-$TID
	C=$(conf 1.0.0 '"promiscMode":true')
	run cni bridge ADD "$A" eth0 "$C"
	[ "$status" -eq 0 ]
	ip -j link show "$BR" | jq -e '.[0].flags|index("PROMISC")'
	cni bridge DEL "$A" eth0 "$C"
}

@test "bridge: mtu on a new bridge and both veth ends" {
	A=$(mkns a)
	C=$(conf 1.0.0 '"mtu":1380')
	run cni bridge ADD "$A" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	h=$(json_get "$output" '.interfaces[1].name')
	[ "$(cat /sys/class/net/$h/mtu)" = 1380 ]
	[ "$(ip -n na-$TID -j link show eth0 | jq '.[0].mtu')" = 1380 ]
	[ "$(cat /sys/class/net/$BR/mtu)" = 1380 ]
	cni bridge DEL "$A" eth0 "$C"
}

@test "bridge: mtuFromDefaultRoute takes the default-route interface's MTU" {
	dev=$(ip -j route show default | jq -r '.[0].dev // empty')
	[ -n "$dev" ] || skip "host has no IPv4 default route"
	A=$(mkns a)
	C=$(conf 1.0.0 '"mtuFromDefaultRoute":true')
	run cni bridge ADD "$A" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(ip -n na-$TID -j link show eth0 | jq '.[0].mtu')" = "$(cat /sys/class/net/$dev/mtu)" ]
	cni bridge DEL "$A" eth0 "$C"
}

@test "bridge: container MAC precedence runtimeConfig > args.cni > CNI_ARGS" {
	A=$(mkns a)
	base=$(conf 1.0.0)
	C1=$(printf '%s' "$base" | jq -c '. + {runtimeConfig:{mac:"02:00:00:00:00:01"}, args:{cni:{mac:"02:00:00:00:00:02"}}}')
	CNI_ARGS="IgnoreUnknown=1;MAC=02:00:00:00:00:03" run cni bridge ADD "$A" eth0 "$C1"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(json_get "$output" '.interfaces[2].mac')" = 02:00:00:00:00:01 ]
	[ "$(ip -n na-$TID -j link show eth0 | jq -r '.[0].address')" = 02:00:00:00:00:01 ]
	cni bridge DEL "$A" eth0 "$C1"
	C2=$(printf '%s' "$base" | jq -c '. + {args:{cni:{mac:"02:00:00:00:00:02"}}}')
	CNI_ARGS="IgnoreUnknown=1;MAC=02:00:00:00:00:03" run cni bridge ADD "$A" eth0 "$C2"
	[ "$(json_get "$output" '.interfaces[2].mac')" = 02:00:00:00:00:02 ]
	cni bridge DEL "$A" eth0 "$C2"
	CNI_ARGS="IgnoreUnknown=1;MAC=02:00:00:00:00:03" run cni bridge ADD "$A" eth0 "$base"
	[ "$(json_get "$output" '.interfaces[2].mac')" = 02:00:00:00:00:03 ]
	cni bridge DEL "$A" eth0 "$base"
	CNI_ARGS="FOO=1" run cni bridge ADD "$A" eth0 "$base"
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *"unknown args"* ]]
	CNI_ARGS="MAC=zz:00:00:00:00:03" run cni bridge ADD "$A" eth0 "$base"
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *"invalid MAC"* ]]
	[ "$(ports)" = 0 ]; [ "$(leases)" = 0 ]
}

@test "bridge: CHECK passes after ADD and detects removed address, route, veth, changed MAC" {
	A=$(mkns a)
	C=$(conf 1.0.0 '"isDefaultGateway":true')
	run cni bridge ADD "$A" eth0 "$C"
	[ "$status" -eq 0 ]
	P=$(printf '%s' "$output" | jq -c .)
	CP=$(printf '%s' "$C" | jq -c ". + {prevResult: $P}")
	run cni bridge CHECK "$A" eth0 "$C"
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *"Required prevResult missing"* ]]
	run cni bridge CHECK "$A" eth0 "$CP"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	ip -n na-$TID route del default
	run cni bridge CHECK "$A" eth0 "$CP"
	[ "$status" -eq 1 ]; [ "$(json_get "$output" .code)" = 107 ]
	[[ "$(json_get "$output" .msg)" == *"route 0.0.0.0/0"* ]]
	ip -n na-$TID route add default via "$NET4.1"
	run cni bridge CHECK "$A" eth0 "$CP"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	ip -n na-$TID addr del "$NET4.2/24" dev eth0
	run cni bridge CHECK "$A" eth0 "$CP"
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *"Failed to match addr $NET4.2/24"* ]]
	ip -n na-$TID addr add "$NET4.2/24" dev eth0
	ip -n na-$TID route add default via "$NET4.1" 2>/dev/null || true
	ip -n na-$TID link set eth0 address 02:11:22:33:44:55
	run cni bridge CHECK "$A" eth0 "$CP"
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *MAC* ]]
	ip -n na-$TID link del eth0
	run cni bridge CHECK "$A" eth0 "$CP"
	[ "$status" -eq 1 ]
	run cni bridge DEL "$A" eth0 "$CP"
	[ "$status" -eq 0 ]
	[ "$(leases)" = 0 ]
}

@test "bridge: DEL twice, with empty netns, with the netns deleted, of a never-added id" {
	A=$(mkns a); B=$(mkns b)
	C=$(conf 1.0.0)
	run cni bridge ADD "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ]
	run cni bridge DEL "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ]
	run cni bridge DEL "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ]
	run cni bridge DEL "" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ]
	run cni bridge DEL "$A" eth0 "$C" never-$TID
	[ "$status" -eq 0 ]
	# netns gone: IPAM still released
	run cni bridge ADD "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ]
	[ "$(leases)" = 1 ]
	ip netns del nb-$TID
	run cni bridge DEL "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(leases)" = 0 ]
	# empty netns: IPAM released too
	run cni bridge ADD "$A" eth0 "$C" cc-$TID
	[ "$status" -eq 0 ]
	P=$(printf '%s' "$output" | jq -c .)
	run cni bridge DEL "" eth0 "$(printf '%s' "$C" | jq -c ". + {prevResult: $P}")" cc-$TID
	[ "$status" -eq 0 ]
	[ "$(leases)" = 0 ]
	# the host end named in prevResult went too (the netns still holds the peer otherwise)
	[ "$(ports)" = 0 ]
	# a missing bridge is fine for DEL
	ip link del "$BR"
	run cni bridge DEL "$A" eth0 "$C" cc-$TID
	[ "$status" -eq 0 ]
}

@test "bridge: failures after IPAM leak nothing (route that cannot be installed, taken ifname)" {
	A=$(mkns a)
	IPAM="{\"type\":\"host-local\",\"subnet\":\"$NET4.0/24\",\"dataDir\":\"$DATA\",\"routes\":[{\"dst\":\"198.51.100.0/24\",\"gw\":\"203.0.113.1\"}]}"
	C=$(conf 1.0.0 '' "$IPAM")
	# veths whose peer is in our namespace (other tests share the kernel)
	peers() { ip -o link show type veth | grep -c "link-netns na-$TID" || true; }
	run cni bridge ADD "$A" eth0 "$C"
	[ "$status" -eq 1 ]
	[[ "$(json_get "$output" .msg)" == *"198.51.100.0/24"* ]]
	[ "$(leases)" = 0 ]
	[ "$(ports)" = 0 ]
	[ "$(peers)" = 0 ]
	! ip -n na-$TID link show eth0 || false
	# CNI_IFNAME taken in the container
	ip -n na-$TID link add eth0 type bridge
	C=$(conf 1.0.0)
	run cni bridge ADD "$A" eth0 "$C"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .code)" = 106 ]
	[[ "$(json_get "$output" .msg)" == *"already exists"* ]]
	[ "$(leases)" = 0 ]; [ "$(ports)" = 0 ]
	[ "$(peers)" = 0 ]
}

@test "bridge: a non-bridge link of that name is refused" {
	A=$(mkns a)
	ip link add "$BR" type veth peer name cp$TID
	run cni bridge ADD "$A" eth0 "$(conf 1.0.0)"
	[ "$status" -eq 1 ]
	[ "$(json_get "$output" .msg)" = "\"$BR\" already exists but is not a bridge" ]
	[ "$(leases)" = 0 ]
}

@test "bridge: VLAN keys validated with the reference's texts; missing kernel feature is code 108" {
	A=$(mkns a)
	run cni bridge ADD "$A" eth0 "$(conf 1.0.0 '"vlan":4095')"
	[ "$(json_get "$output" .msg)" = "invalid VLAN ID 4095 (must be between 0 and 4094)" ]
	run cni bridge ADD "$A" eth0 "$(conf 1.0.0 '"vlanTrunk":[{"id":0}]')"
	[ "$(json_get "$output" .msg)" = "incorrect trunk id parameter" ]
	run cni bridge ADD "$A" eth0 "$(conf 1.0.0 '"vlanTrunk":[{"minID":5}]')"
	[ "$(json_get "$output" .msg)" = "minID and maxID should be configured simultaneously, maxID is missing" ]
	run cni bridge ADD "$A" eth0 "$(conf 1.0.0 '"vlanTrunk":[{"maxID":5}]')"
	[ "$(json_get "$output" .msg)" = "minID and maxID should be configured simultaneously, minID is missing" ]
	run cni bridge ADD "$A" eth0 "$(conf 1.0.0 '"vlanTrunk":[{"minID":9,"maxID":5}]')"
	[ "$(json_get "$output" .msg)" = "minID is greater than maxID in trunk parameter" ]
	run cni bridge ADD "$A" eth0 "$(conf 1.0.0 '"vlanTrunk":[{"minID":0,"maxID":5}]')"
	[ "$(json_get "$output" .msg)" = "incorrect trunk minID parameter" ]
	run cni bridge ADD "$A" eth0 "$(conf 1.0.0 '"vlanTrunk":[{"minID":1,"maxID":5000}]')"
	[ "$(json_get "$output" .msg)" = "incorrect trunk maxID parameter" ]
	run cni bridge ADD "$A" eth0 "$(conf 1.0.0 '"ipMasqBackend":"pf"')"
	[ "$(json_get "$output" .msg)" = 'unknown ipmasq backend "pf"' ]
	run cni bridge ADD "$A" eth0 "$(conf 1.0.0 '"vlan":100')"
	[ "$status" -eq 1 ]
	if ip link add zv$TID type bridge vlan_filtering 1 2>/dev/null; then
		ip link del zv$TID
		skip "this kernel has bridge VLAN filtering: VLAN programming is exercised in the netlab"
	fi
	[ "$(json_get "$output" .code)" = 108 ]
	[[ "$(json_get "$output" .msg)" == *CONFIG_BRIDGE_VLAN_FILTERING* ]]
	[ "$(leases)" = 0 ]
}

@test "bridge: STATUS and GC forward to IPAM" {
	fake_ipam
	C=$(conf 1.1.0 '' '{"type":"fake-ipam"}')
	for cmd in STATUS GC; do
		run bash -c "printf '%s' '$C' | CNI_COMMAND=$cmd CNI_PATH=$CNI_PATH $BIN/bridge"
		[ "$status" -eq 0 ] || { echo "$output"; false; }
	done
	grep -q '^STATUS' "$TMP/fake.log"
	grep -q '^GC' "$TMP/fake.log"
}

@test "bridge: internal network drops IPAM default routes and refuses ipMasq" {
	A=$(mkns a)
	IPAM="{\"type\":\"host-local\",\"subnet\":\"$NET4.0/24\",\"dataDir\":\"$DATA\",\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}"
	run cni bridge ADD "$A" eth0 "$(conf 1.0.0 '"internal":true,"ipMasq":true')"
	[ "$status" -eq 1 ]
	C=$(conf 1.1.0 '"internal":true,"isGateway":true' "$IPAM")
	# the bridge's internal mark goes with a GC once the bridge is gone
	on_cleanup "ip link del $BR; printf '%s' '$(printf '%s' "$C" | jq -c '. + {"cni.dev/valid-attachments":[]}')' | CNI_COMMAND=GC CNI_PATH=$CNI_PATH $BIN/bridge"
	run cni bridge ADD "$A" eth0 "$C"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(json_get "$output" '.routes')" = null ]
	[ -z "$(ip -n na-$TID route show default)" ]
	ip netns exec na-$TID ping -c1 -W2 "$NET4.1"
	cni bridge DEL "$A" eth0 "$C"
}

@test "bridge: 50 parallel ADDs on one bridge get distinct addresses and all reach the gateway" {
	C=$(conf 1.0.0 '"isGateway":true')
	for i in $(seq 1 50); do netns_new "p$i-$TID"; done
	for i in $(seq 1 50); do
		( cni bridge ADD /run/netns/p$i-$TID eth0 "$C" p$i-$TID > "$TMP/add.$i" 2>&1; echo $? > "$TMP/rc.$i" ) &
	done
	wait
	for i in $(seq 1 50); do [ "$(cat $TMP/rc.$i)" = 0 ] || { cat "$TMP/add.$i"; false; }; done
	[ "$(cat $TMP/add.* | jq -r '.ips[0].address' | sort -u | wc -l)" = 50 ]
	[ "$(ports)" = 50 ]
	for i in $(seq 1 50); do ip netns exec p$i-$TID ping -c1 -W2 "$NET4.1" >/dev/null & done
	fails=0; for j in $(jobs -p); do wait $j || fails=$((fails+1)); done
	[ "$fails" = 0 ]
	ip netns exec p1-$TID ping -c1 -W2 "$(jq -r '.ips[0].address' $TMP/add.50 | cut -d/ -f1)"
	for i in $(seq 1 50); do cni bridge DEL /run/netns/p$i-$TID eth0 "$C" p$i-$TID > /dev/null & done
	wait
	[ "$(ports)" = 0 ]
	[ "$(leases)" = 0 ]
}

# elements of our network's masquerade set (table inet cni_c, branch nft)
masq_elems() {
	nft -j list set inet cni_c "masq4_net$TID" 2>/dev/null |
		jq -r '.nftables[] | select(.set) | .set.elem // [] | .[] | if type == "object" then .elem.val else . end'
}

@test "bridge: ipMasq elements appear on ADD and go on DEL (also with the netns gone); traffic leaves masqueraded" {
	export CNI_C_STATE_DIR="$TMP/state"
	A=$(mkns a); B=$(mkns b); O=$(mkns out)
	C=$(conf 1.1.0 '"isDefaultGateway":true,"ipMasq":true')
	on_cleanup "printf '%s' '$(printf '%s' "$C" | jq -c '. + {"cni.dev/valid-attachments":[]}')' | CNI_COMMAND=GC CNI_PATH=$CNI_PATH CNI_C_STATE_DIR=$CNI_C_STATE_DIR $BIN/bridge"
	run cni bridge ADD "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	ipa=$(json_get "$output" '.ips[0].address' | cut -d/ -f1)
	[ "$(masq_elems)" = "$ipa" ]
	P=$(printf '%s' "$output" | jq -c .)
	run cni bridge CHECK "$A" eth0 "$(printf '%s' "$C" | jq -c ". + {prevResult: $P}")" ca-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# "outside": a netns behind a host veth in another private subnet, with
	# no route back to the container subnet
	OUT=172.$((16 + 0x${TID:0:2} % 16)).$((0x${TID:2:2}))
	ip link add o$TID type veth peer name eth0 netns nout-$TID
	on_cleanup "ip link del o$TID"
	ip addr add $OUT.1/24 dev o$TID; ip link set o$TID up
	ip -n nout-$TID addr add $OUT.2/24 dev eth0; ip -n nout-$TID link set eth0 up
	# the outside can only answer $OUT.1 (no route to the container subnet):
	# a reply proves the source was rewritten to the host's address
	[ -z "$(ip -n nout-$TID route show default)" ]
	ip netns exec na-$TID ping -c1 -W2 $OUT.2
	run cni bridge ADD "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ]
	ipb=$(json_get "$output" '.ips[0].address' | cut -d/ -f1)
	[ "$(masq_elems | wc -l)" = 2 ]
	run cni bridge DEL "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ]
	sleep 0.05   # deleted elements expire (timeout 1 ms), see pkg/netfilter
	[ "$(masq_elems)" = "$ipb" ]
	ip netns del nb-$TID
	run cni bridge DEL "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	sleep 0.05
	[ -z "$(masq_elems)" ]
	[ "$(leases)" = 0 ]
}

# elements of table inet cni_c set internal_br (bridge names)
internal_marks() {
	nft -j list set inet cni_c internal_br 2>/dev/null |
		jq -r '.nftables[] | select(.set) | .set.elem // [] | .[] | if type == "object" then .elem.val else . end'
}

@test "bridge: internal network cannot reach or be reached from the outside (IPv4 and IPv6); a normal network on the same host can; containers still reach each other" {
	export CNI_C_STATE_DIR="$TMP/state"
	A=$(mkns a); B=$(mkns b); N=$(mkns n); O=$(mkns out)
	BR2=cn$TID
	NETN=10.$((150 + 0x${TID:4:2} % 50)).$((0x${TID:2:2}))
	OUT=172.$((16 + 0x${TID:0:2} % 16)).$((0x${TID:4:2}))
	NETN6=fd9d:$(printf %x 0x${TID:0:4}):$(printf %x 0x${TID:4:2})
	OUT6=fd9e:$(printf %x 0x${TID:0:4}):$(printf %x 0x${TID:4:2})
	IPAM="{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"$NET4.0/24\"}],[{\"subnet\":\"$NET6::/64\"}]],\"dataDir\":\"$DATA\",\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"::/0\"}]}"
	C=$(conf 1.1.0 '"internal":true,"isGateway":true' "$IPAM")
	CN=$(printf '{"cniVersion":"1.1.0","name":"nn%s","type":"bridge","bridge":"%s","isDefaultGateway":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"%s.0/24"}],[{"subnet":"%s::/64"}]],"dataDir":"%s"}}' \
		"$TID" "$BR2" "$NETN" "$NETN6" "$DATA")
	# the internal mark goes with a GC once the bridge is gone
	GCC=$(printf '%s' "$C" | jq -c '. + {"cni.dev/valid-attachments":[]}')
	on_cleanup "ip link del $BR; printf '%s' '$GCC' | CNI_COMMAND=GC CNI_PATH=$CNI_PATH $BIN/bridge"
	on_cleanup "ip link del $BR2"
	# "outside": a netns routed via the host (forwarding on), default route back
	ip link add o$TID type veth peer name eth0 netns nout-$TID
	on_cleanup "ip link del o$TID"
	# no DAD on these links either: until its link-local address is out of
	# DAD a link sends no neighbour solicitation for forwarded packets
	sysctl -qw net.ipv6.conf.o$TID.accept_dad=0
	ip netns exec nout-$TID sysctl -qw net.ipv6.conf.eth0.accept_dad=0
	ip addr add $OUT.1/24 dev o$TID; ip addr add $OUT6::1/64 dev o$TID nodad; ip link set o$TID up
	ip -n nout-$TID addr add $OUT.2/24 dev eth0; ip -n nout-$TID addr add $OUT6::2/64 dev eth0 nodad
	ip -n nout-$TID link set eth0 up
	ip -n nout-$TID route add default via $OUT.1
	ip -n nout-$TID route add default via $OUT6::1

	run cni bridge ADD "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	P=$(printf '%s' "$output" | jq -c .)
	run cni bridge ADD "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run cni bridge ADD "$N" eth0 "$CN" cn-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	internal_marks | grep -qx "$BR"
	! internal_marks | grep -qx "$BR2" || false
	# CHECK sees the mark
	run cni bridge CHECK "$A" eth0 "$(printf '%s' "$C" | jq -c ". + {prevResult: $P}")" ca-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }

	# inside the internal network: each other and the gateway, both families
	ip netns exec na-$TID ping -c1 -W2 "$NET4.1"
	ip netns exec na-$TID ping -c1 -W2 "$NET4.3"
	ip netns exec nb-$TID ping -c1 -W2 "$NET4.2"
	ip netns exec na-$TID ping -c1 -W2 "$NET6::1"
	ip netns exec na-$TID ping -c1 -W2 "$NET6::3"
	ip netns exec nb-$TID ping -c1 -W2 "$NET6::2"
	# the normal network reaches the outside, both ways, both families
	ip netns exec nn-$TID ping -c1 -W2 "$OUT.2"
	ip netns exec nout-$TID ping -c1 -W2 "$NETN.2"
	ip netns exec nn-$TID ping -c1 -W2 "$OUT6::2"
	ip netns exec nout-$TID ping -c1 -W2 "$NETN6::2"
	# the internal one does not, even with a route added by hand, both ways
	ip -n na-$TID route add $OUT.0/24 via $NET4.1
	ip -n na-$TID route add $OUT6::/64 via $NET6::1
	! ip netns exec na-$TID ping -c1 -W1 "$OUT.2" || false
	! ip netns exec nout-$TID ping -c1 -W1 "$NET4.2" || false
	! ip netns exec na-$TID ping -c1 -W1 "$OUT6::2" || false
	! ip netns exec nout-$TID ping -c1 -W1 "$NET6::2" || false
	# nor to the other bridge's containers, both ways
	ip -n na-$TID route add $NETN.0/24 via $NET4.1
	ip -n na-$TID route add $NETN6::/64 via $NET6::1
	! ip netns exec na-$TID ping -c1 -W1 "$NETN.2" || false
	! ip netns exec nn-$TID ping -c1 -W1 "$NET4.2" || false
	! ip netns exec na-$TID ping -c1 -W1 "$NETN6::2" || false
	! ip netns exec nn-$TID ping -c1 -W1 "$NET6::2" || false

	# DEL keeps the mark while the bridge exists (other containers use it)
	run cni bridge DEL "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ]
	internal_marks | grep -qx "$BR"
	run cni bridge DEL "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ]
	run cni bridge DEL "$N" eth0 "$CN" cn-$TID
	[ "$status" -eq 0 ]
	printf '%s' "$GCC" | CNI_COMMAND=GC CNI_PATH=$CNI_PATH $BIN/bridge
	internal_marks | grep -qx "$BR"
	# ...and a GC after the bridge is gone removes it
	ip link del "$BR"
	printf '%s' "$GCC" | CNI_COMMAND=GC CNI_PATH=$CNI_PATH $BIN/bridge
	! internal_marks | grep -qx "$BR" || false
	# a re-created internal bridge of that name is marked again (stale mark replaced)
	run cni bridge ADD "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	internal_marks | grep -qx "$BR"
	run cni bridge DEL "$A" eth0 "$C" ca-$TID
	[ "$(leases)" = 0 ]
}

# elements of table bridge cni_c set spoofchk_allowed / spoofchk_ifaces naming $1
spoof_elems() {
	{ nft list set bridge cni_c spoofchk_allowed; nft list set bridge cni_c spoofchk_ifaces; } 2>/dev/null |
		grep -o "\"$1\"[^,}]*" || true
}

@test "bridge: macspoofchk drops frames with a forged source MAC; nothing left after DEL (also with the netns gone) or GC" {
	export CNI_C_STATE_DIR="$TMP/state"
	A=$(mkns a); B=$(mkns b)
	C=$(conf 1.1.0 '"isGateway":true,"macspoofchk":true')
	on_cleanup "printf '%s' '$(printf '%s' "$C" | jq -c '. + {"cni.dev/valid-attachments":[]}')' | CNI_COMMAND=GC CNI_PATH=$CNI_PATH CNI_C_STATE_DIR=$CNI_C_STATE_DIR $BIN/bridge"
	run cni bridge ADD "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	P=$(printf '%s' "$output" | jq -c .)
	hv=$(json_get "$output" '.interfaces[1].name')
	mac=$(json_get "$output" '.interfaces[2].mac')
	[ "$(spoof_elems "$hv" | wc -l)" = 2 ]
	spoof_elems "$hv" | grep -q "$mac"
	run cni bridge CHECK "$A" eth0 "$(printf '%s' "$C" | jq -c ". + {prevResult: $P}")" ca-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	ip netns exec na-$TID ping -c1 -W2 "$NET4.1"
	# forged source MAC: dropped at the bridge
	ip -n na-$TID link set eth0 address 02:42:de:ad:be:ef
	ip -n na-$TID neigh flush dev eth0
	! ip netns exec na-$TID ping -c1 -W1 "$NET4.1" || false
	# and CHECK reports the changed MAC
	run cni bridge CHECK "$A" eth0 "$(printf '%s' "$C" | jq -c ". + {prevResult: $P}")" ca-$TID
	[ "$status" -ne 0 ]
	ip -n na-$TID link set eth0 address "$mac"
	ip netns exec na-$TID ping -c1 -W2 "$NET4.1"
	# a second container; its DEL comes after its netns is gone
	run cni bridge ADD "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	hvb=$(json_get "$output" '.interfaces[1].name')
	[ "$(spoof_elems "$hvb" | wc -l)" = 2 ]
	ip netns exec nb-$TID ping -c1 -W2 "$NET4.2"
	run cni bridge DEL "$A" eth0 "$C" ca-$TID
	[ "$status" -eq 0 ]
	sleep 0.05   # released elements expire (timeout 1 ms), see pkg/netfilter
	[ -z "$(spoof_elems "$hv")" ]
	[ "$(spoof_elems "$hvb" | wc -l)" = 2 ]
	ip netns del nb-$TID
	run cni bridge DEL "$B" eth0 "$C" cb-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	sleep 0.05
	[ -z "$(spoof_elems "$hvb")" ]
	[ -z "$(ls "$CNI_C_STATE_DIR/spoofchk/net$TID" 2>/dev/null)" ]
	# GC removes an attachment that is not valid any more
	B=$(mkns b2)
	run cni bridge ADD "$B" eth0 "$C" cc-$TID
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	hvc=$(json_get "$output" '.interfaces[1].name')
	[ "$(spoof_elems "$hvc" | wc -l)" = 2 ]
	printf '%s' "$C" | jq -c '. + {"cni.dev/valid-attachments":[]}' | CNI_COMMAND=GC CNI_PATH=$CNI_PATH $BIN/bridge
	sleep 0.05
	[ -z "$(spoof_elems "$hvc")" ]
	cni bridge DEL "$B" eth0 "$C" cc-$TID
	[ "$(leases)" = 0 ]
}
