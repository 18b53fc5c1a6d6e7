#!/usr/bin/env bats
# macvlan (reference 2.3, 3.3 item 32): real macvlan links on a veth parent
# this test creates, traffic between container namespaces, every result
# version, DEL idempotency, forced failures, CHECK.
load helpers

setup() {
	setup_common
	export CNI_PATH="$BIN:/usr/lib/cni"
	P=mvp$TID Q=mvq$TID
	ip link add $P type veth peer name $Q
	link_cleanup $P
	ip link set $P up; ip link set $Q up
	netns_new mva$TID; netns_new mvb$TID
	NSA=/run/netns/mva$TID NSB=/run/netns/mvb$TID
	DATA=$TMP/ipam
	SUB=10.$((RANDOM % 200 + 20)).$((RANDOM % 250)).0/24
	PFX=${SUB%.0/24}
	V=$(ipam_version)
}
teardown() { teardown_common; }

# the highest version the host-local found first in CNI_PATH speaks (the
# Debian reference one stops at 1.0.0)
ipam_version() {
	local hl
	for d in ${CNI_PATH//:/ }; do [ -x "$d/host-local" ] && { hl=$d/host-local; break; }; done
	echo '{}' | CNI_COMMAND=VERSION "$hl" | jq -r '.supportedVersions[-1]'
}

conf() { # MODE [extra json members]
	local extra=${2:+,$2}
	printf '{"cniVersion":"%s","name":"mv%s","type":"macvlan","master":"%s","mode":"%s","ipam":{"type":"host-local","subnet":"%s","dataDir":"%s","routes":[{"dst":"0.0.0.0/0"}]},"dns":{"nameservers":["192.0.2.53"]}%s}' \
		"$V" "$TID" "$P" "$1" "$SUB" "$DATA" "$extra"
}

ip_files() { ls "$DATA/mv$TID" 2>/dev/null | grep -c '^[0-9]' || true; }

@test "macvlan: two containers on one parent get addresses and ping each other" {
	C=$(conf bridge)
	run cni macvlan ADD $NSA eth0 "$C" a-$TID
	[ "$status" -eq 0 ]
	echo "$output"
	[ "$(json_get "$output" '.interfaces|length')" = 1 ]
	[ "$(json_get "$output" '.interfaces[0].name')" = eth0 ]
	[ "$(json_get "$output" '.interfaces[0].sandbox')" = "$NSA" ]
	[ "$(json_get "$output" '.ips[0].interface')" = 0 ]
	[ "$(json_get "$output" '.ips[0].address')" = "$PFX.2/24" ]
	[ "$(json_get "$output" '.dns.nameservers[0]')" = 192.0.2.53 ]
	mac=$(json_get "$output" '.interfaces[0].mac')
	[ "$(ip -n mva$TID -j link show eth0 | jq -r '.[0].address')" = "$mac" ]
	[ "$(ip -n mva$TID -d -j link show eth0 | jq -r '.[0].linkinfo.info_kind + " " + .[0].linkinfo.info_data.mode')" = "macvlan bridge" ]
	ip -n mva$TID route | grep -q "^default via $PFX.1 dev eth0"
	run cni macvlan ADD $NSB eth0 "$C" b-$TID
	[ "$status" -eq 0 ]
	ip netns exec mva$TID ping -c1 -W2 $PFX.3
	ip netns exec mvb$TID ping -c1 -W2 $PFX.2
	# only the two links exist, no temporary names are left behind
	[ "$(ip -n mva$TID -o link | grep -vc ': lo:')" = 1 ]
	[ "$(ip netns exec mva$TID cat /proc/sys/net/ipv4/conf/eth0/arp_notify)" = 1 ]
	cni macvlan DEL $NSA eth0 "$C" a-$TID
	cni macvlan DEL $NSB eth0 "$C" b-$TID
	[ "$(ip_files)" = 0 ]
	! ip -n mva$TID link show eth0 || false
}

@test "macvlan: the parent's own namespace cannot reach the children; a macvlan shim on the parent fixes it" {
	# the plugin runs inside namespace H, which owns the parent, so the
	# "host" of this test is a namespace of its own
	netns_new mvh$TID
	ip link set $P netns mvh$TID
	ip -n mvh$TID link set $P up
	ip -n mvh$TID addr add $PFX.250/24 dev $P
	C=$(conf bridge)
	run ip netns exec mvh$TID bash -c "printf '%s' '$C' | CNI_COMMAND=ADD CNI_CONTAINERID=a-$TID CNI_NETNS=$NSA CNI_IFNAME=eth0 CNI_PATH=$CNI_PATH $BIN/macvlan"
	[ "$status" -eq 0 ]
	! ip netns exec mvh$TID ping -c1 -W1 $PFX.2 || false
	# the usual fix: a macvlan (bridge mode) of the same parent for the host
	ip -n mvh$TID addr del $PFX.250/24 dev $P
	ip -n mvh$TID link add shim link $P type macvlan mode bridge
	ip -n mvh$TID addr add $PFX.250/24 dev shim
	ip -n mvh$TID link set shim up
	ip netns exec mvh$TID ping -c1 -W2 $PFX.2
	run ip netns exec mvh$TID bash -c "printf '%s' '$C' | CNI_COMMAND=DEL CNI_CONTAINERID=a-$TID CNI_NETNS=$NSA CNI_IFNAME=eth0 CNI_PATH=$CNI_PATH $BIN/macvlan"
	[ "$status" -eq 0 ]
	on_cleanup "ip -n mvh$TID link del $P"
}

@test "macvlan: private siblings cannot talk, even reflected; vepa siblings talk only through a hairpin switch" {
	# Q sits on a bridge with hairpin, which reflects frames back to P
	ip link add mvbr$TID type bridge; link_cleanup mvbr$TID
	ip link set $Q master mvbr$TID; ip link set mvbr$TID up
	for mode in private vepa; do
		C=$(conf $mode)
		run cni macvlan ADD $NSA eth0 "$C" a-$TID; [ "$status" -eq 0 ]
		run cni macvlan ADD $NSB eth0 "$C" b-$TID; [ "$status" -eq 0 ]
		[ "$(ip -n mvb$TID -d -j link show eth0 | jq -r '.[0].linkinfo.info_data.mode')" = $mode ]
		a=$(ip -n mva$TID -j addr show eth0 | jq -r '.[0].addr_info[]|select(.family=="inet").local')
		b=$(ip -n mvb$TID -j addr show eth0 | jq -r '.[0].addr_info[]|select(.family=="inet").local')
		! ip netns exec mva$TID ping -c1 -W1 $b || false
		bridge link set dev $Q hairpin on
		if [ $mode = private ]; then
			! ip netns exec mva$TID ping -c1 -W1 $b || false
		else
			ip netns exec mva$TID ping -c1 -W2 $b
		fi
		bridge link set dev $Q hairpin off
		cni macvlan DEL $NSA eth0 "$C" a-$TID
		cni macvlan DEL $NSB eth0 "$C" b-$TID
	done
	[ "$(ip_files)" = 0 ]
}

@test "macvlan: passthru takes the parent for one child; a second child fails and leaks nothing" {
	C=$(conf passthru)
	run cni macvlan ADD $NSA eth0 "$C" a-$TID
	[ "$status" -eq 0 ]
	[ "$(ip -n mva$TID -d -j link show eth0 | jq -r '.[0].linkinfo.info_data.mode')" = passthru ]
	run cni macvlan ADD $NSB eth0 "$C" b-$TID
	[ "$status" -ne 0 ]
	[[ "$(json_get "$output" .msg)" == *"failed to create macvlan"* ]]
	[ "$(ip -n mvb$TID -o link | grep -vc ': lo:')" = 0 ]
	[ "$(ip_files)" = 1 ]
	cni macvlan DEL $NSA eth0 "$C" a-$TID
	[ "$(ip_files)" = 0 ]
}

@test "macvlan: every result version" {
	for v in 0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
		[ "$(printf '%s\n%s\n' "$v" "$V" | sort -V | tail -1)" = "$V" ] || continue
		C=$(V=$v conf bridge)
		run cni macvlan ADD $NSA eth0 "$C" a-$TID
		echo "$v: $output"
		[ "$status" -eq 0 ]
		[ "$(json_get "$output" .cniVersion)" = $v ]
		case $v in
		0.1.0|0.2.0)
			[[ "$(json_get "$output" .ip4.ip)" == "$PFX".*/24 ]]
			[ "$(json_get "$output" '.interfaces')" = null ] ;;
		0.3.*|0.4.0)
			[ "$(json_get "$output" '.ips[0].version')" = 4 ]
			[ "$(json_get "$output" '.ips[0].interface')" = 0 ] ;;
		*)
			[ "$(json_get "$output" '.ips[0].version')" = null ]
			[[ "$(json_get "$output" '.ips[0].address')" == "$PFX".*/24 ]] ;;
		esac
		run cni macvlan DEL $NSA eth0 "$C" a-$TID
		[ "$status" -eq 0 ]
	done
	[ "$(ip_files)" = 0 ]
}

@test "macvlan: L2 only (no ipam): link up, no addresses, no ips in the result" {
	C='{"cniVersion":"1.1.0","name":"mv'$TID'","type":"macvlan","master":"'$P'","ipam":{}}'
	run cni macvlan ADD $NSA eth0 "$C"
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '.ips')" = null ]
	[ "$(json_get "$output" '.dns')" = null ]
	ip -n mva$TID link show eth0 | grep -q '[<,]UP[,>]'
	[ -z "$(ip -n mva$TID -4 -o addr show eth0)" ]
	run cni macvlan STATUS "" "" "$C"
	[ "$status" -eq 0 ]
	run cni macvlan DEL $NSA eth0 "$C"
	[ "$status" -eq 0 ]
}

@test "macvlan: mtu is checked against the master; mtu, bcqueuelen and mac are applied" {
	ip link set $P mtu 1400
	run cni macvlan ADD $NSA eth0 "$(conf bridge '"mtu":1401')"
	[ "$status" -ne 0 ]
	[ "$(json_get "$output" .msg)" = "invalid MTU 1401, must be [0, master MTU(1400)]" ]
	[ "$(ip_files)" = 0 ]
	C=$(conf bridge '"mtu":1300,"bcqueuelen":77,"mac":"02:00:00:aa:bb:01"')
	run cni macvlan ADD $NSA eth0 "$C"
	[ "$status" -eq 0 ]
	j=$(ip -n mva$TID -d -j link show eth0)
	[ "$(json_get "$j" '.[0].mtu')" = 1300 ]
	[ "$(json_get "$j" '.[0].address')" = 02:00:00:aa:bb:01 ]
	[ "$(json_get "$j" '.[0].linkinfo.info_data.bcqueuelen')" = 77 ]
	[ "$(json_get "$output" '.interfaces[0].mac')" = 02:00:00:aa:bb:01 ]
	cni macvlan DEL $NSA eth0 "$C"
}

@test "macvlan: MAC precedence runtimeConfig.mac > CNI_ARGS MAC > mac; bad values rejected" {
	base='"mac":"02:00:00:00:00:01"'
	CNI_ARGS="IgnoreUnknown=1;MAC=02:00:00:00:00:02" run cni macvlan ADD $NSA eth0 "$(conf bridge "$base,\"runtimeConfig\":{\"mac\":\"02:00:00:00:00:03\"}")" a-$TID
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '.interfaces[0].mac')" = 02:00:00:00:00:03 ]
	CNI_ARGS="IgnoreUnknown=1;MAC=02:00:00:00:00:02" run cni macvlan ADD $NSB eth0 "$(conf bridge "$base")" b-$TID
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '.interfaces[0].mac')" = 02:00:00:00:00:02 ]
	run cni macvlan ADD $NSB eth1 "$(conf bridge "$base")" c-$TID
	[ "$status" -eq 0 ]
	[ "$(json_get "$output" '.interfaces[0].mac')" = 02:00:00:00:00:01 ]
	CNI_ARGS="FOO=1" run cni macvlan ADD $NSB eth2 "$(conf bridge)" d-$TID
	[ "$(json_get "$output" .code)" = 4 ]
	run cni macvlan ADD $NSB eth2 "$(conf bridge '"mac":"zz:00:00:00:00:01"')" d-$TID
	[ "$(json_get "$output" .msg)" = "invalid args zz:00:00:00:00:01 for MAC addr" ]
	run cni macvlan ADD $NSB eth2 "$(conf nosuch)" d-$TID
	[ "$(json_get "$output" .msg)" = 'unknown macvlan mode: "nosuch"' ]
	for x in a:$NSA:eth0 b:$NSB:eth0 c:$NSB:eth1; do
		IFS=: read -r id ns ifn <<< "$x"
		cni macvlan DEL $ns $ifn "$(conf bridge)" $id-$TID
	done
	[ "$(ip_files)" = 0 ]
}

@test "macvlan: linkInContainer with the default master found in the container's default route" {
	ip link set $P netns mva$TID
	ip -n mva$TID link set $P up
	ip -n mva$TID addr add 198.18.$((RANDOM % 250)).1/24 dev $P
	on_cleanup "ip -n mva$TID link del $P"
	ip -n mva$TID route add default dev $P
	C='{"cniVersion":"1.1.0","name":"mv'$TID'","type":"macvlan","linkInContainer":true,"ipam":{}}'
	run cni macvlan ADD $NSA eth0 "$C"
	[ "$status" -eq 0 ]
	[ "$(ip -n mva$TID -j link show eth0 | jq -r '.[0].link')" = $P ]
	C2='{"cniVersion":"1.1.0","name":"mv'$TID'","type":"macvlan","linkInContainer":true,"master":"nope'$TID'","ipam":{}}'
	run cni macvlan ADD $NSA eth1 "$C2"
	[[ "$(json_get "$output" .msg)" == *"failed to lookup master \"nope$TID\""* ]]
	[ "$(json_get "$output" .code)" = 110 ]
	run cni macvlan DEL $NSA eth0 "$C"
	[ "$status" -eq 0 ]
	! ip -n mva$TID link show eth0 || false
	ip -n mva$TID route del default
	run cni macvlan ADD $NSA eth0 "$C"
	[ "$(json_get "$output" .msg)" = "no default route interface found" ]
}

@test "macvlan: DEL twice, DEL with the master gone, DEL with the netns gone, DEL without netns" {
	C=$(conf bridge)
	run cni macvlan ADD $NSA eth0 "$C" a-$TID; [ "$status" -eq 0 ]
	run cni macvlan ADD $NSB eth0 "$C" b-$TID; [ "$status" -eq 0 ]
	run cni macvlan DEL $NSA eth0 "$C" a-$TID; [ "$status" -eq 0 ]
	run cni macvlan DEL $NSA eth0 "$C" a-$TID; [ "$status" -eq 0 ]
	# the master disappears (and takes its macvlans with it)
	ip link del $P
	[ "$(ip_files)" = 1 ]
	run cni macvlan DEL $NSB eth0 "$C" b-$TID; [ "$status" -eq 0 ]
	[ "$(ip_files)" = 0 ]
	ip link add $P type veth peer name $Q; ip link set $P up
	run cni macvlan ADD $NSA eth0 "$C" a-$TID; [ "$status" -eq 0 ]
	ip netns del mva$TID
	run cni macvlan DEL $NSA eth0 "$C" a-$TID; [ "$status" -eq 0 ]
	[ "$(ip_files)" = 0 ]
	run cni macvlan ADD $NSB eth0 "$C" b-$TID; [ "$status" -eq 0 ]
	run cni macvlan DEL "" eth0 "$C" b-$TID; [ "$status" -eq 0 ]
	[ "$(ip_files)" = 0 ]
}

@test "macvlan: forced failures after creation leak neither link nor address" {
	# an IPAM route through a gateway outside the subnet cannot be added
	C=$(conf bridge | jq -c '.ipam.routes=[{"dst":"203.0.113.0/24","gw":"198.51.100.1"}]')
	run cni macvlan ADD $NSA eth0 "$C" a-$TID
	[ "$status" -ne 0 ]
	[[ "$(json_get "$output" .msg)" == *"failed to add route"* ]]
	[ "$(ip -n mva$TID -o link | grep -vc ': lo:')" = 0 ]
	[ "$(ip_files)" = 0 ]
	# CNI_IFNAME already taken in the container
	ip -n mva$TID link add eth0 type veth peer name x$TID
	run cni macvlan ADD $NSA eth0 "$(conf bridge)" a-$TID
	[ "$status" -ne 0 ]
	[ "$(json_get "$output" .code)" = 106 ]
	[ "$(ip -n mva$TID -o link | grep -c macvlan)" = 0 ]
	[ "$(ip_files)" = 0 ]
	# missing IPAM plugin: the link goes again
	run cni macvlan ADD $NSB eth0 "$(conf bridge | jq -c '.ipam.type="nosuch"')" b-$TID
	[ "$status" -ne 0 ]
	[ "$(ip -n mvb$TID -o link | grep -vc ': lo:')" = 0 ]
}

@test "macvlan: CHECK passes after ADD and detects a changed mode, MAC, address and route" {
	[ "$(printf '0.4.0\n%s\n' "$V" | sort -V | head -1)" = 0.4.0 ] || skip "host-local speaks < 0.4.0"
	C=$(conf bridge)
	run cni macvlan ADD $NSA eth0 "$C" a-$TID
	[ "$status" -eq 0 ]
	CC=$(printf '%s' "$C" | jq -c --argjson p "$output" '.prevResult=$p')
	run cni macvlan CHECK $NSA eth0 "$CC" a-$TID
	[ "$status" -eq 0 ]
	run cni macvlan CHECK $NSA eth0 "$C" a-$TID
	[[ "$(json_get "$output" .msg)" == *"prevResult missing"* ]]
	ip -n mva$TID link set eth0 type macvlan mode private
	run cni macvlan CHECK $NSA eth0 "$CC" a-$TID
	[ "$status" -ne 0 ]
	[[ "$(json_get "$output" .msg)" == *"mode private does not match expected value: bridge"* ]]
	ip -n mva$TID link set eth0 type macvlan mode bridge
	cni macvlan CHECK $NSA eth0 "$CC" a-$TID
	old=$(ip -n mva$TID -j link show eth0 | jq -r '.[0].address')
	ip -n mva$TID link set eth0 address 02:11:22:33:44:55
	run cni macvlan CHECK $NSA eth0 "$CC" a-$TID
	[[ "$(json_get "$output" .msg)" == *"Mac"* ]]
	ip -n mva$TID link set eth0 address $old
	ip -n mva$TID route del default
	run cni macvlan CHECK $NSA eth0 "$CC" a-$TID
	[[ "$(json_get "$output" .msg)" == *"route (dst 0.0.0.0/0"* ]]
	ip -n mva$TID route add default via $PFX.1
	cni macvlan CHECK $NSA eth0 "$CC" a-$TID
	ip -n mva$TID addr flush dev eth0
	run cni macvlan CHECK $NSA eth0 "$CC" a-$TID
	[ "$(json_get "$output" .code)" = 107 ]
	[[ "$(json_get "$output" .msg)" == *"expected address $PFX.2/24"* ]]
	cni macvlan DEL $NSA eth0 "$C" a-$TID
}

@test "macvlan: STATUS and GC are forwarded to IPAM" {
	C='{"cniVersion":"1.1.0","name":"mv'$TID'","type":"macvlan","master":"'$P'","ipam":{"type":"nosuch'$TID'"}}'
	run cni macvlan STATUS "" "" "$C"
	[ "$status" -ne 0 ]
	[[ "$(json_get "$output" .msg)" == *"nosuch$TID"* ]]
	run cni macvlan GC "" "" "$C"
	[ "$status" -ne 0 ]
	[[ "$(json_get "$output" .msg)" == *"nosuch$TID"* ]]
	run cni macvlan STATUS "" "" '{"cniVersion":"1.1.0","name":"mv'$TID'","type":"macvlan"}'
	[ "$status" -eq 0 ]
}

@test "macvlan: an interface name already taken in the container is refused, nothing left behind" {
	C=$(conf bridge)
	# a link named eth0 exists in the container already (a veth end moved there)
	ip link add mvx$TID type veth peer name mvy$TID
	link_cleanup mvx$TID
	ip link set mvy$TID netns mva$TID name eth0
	run cni macvlan ADD $NSA eth0 "$C" x-$TID
	[ "$status" -ne 0 ]
	echo "$output"
	# code 106 (exists), the reference's text for it
	[ "$(json_get "$output" '.code')" = 106 ]
	echo "$output" | grep -q 'failed to rename macvlan to \\"eth0\\"'
	# the existing eth0 is untouched (still a veth), no temporary link, no address kept
	[ "$(ip -n mva$TID -d -j link show eth0 | jq -r '.[0].linkinfo.info_kind')" = veth ]
	[ "$(ip -n mva$TID -o link | grep -vc ': lo:')" = 1 ]
	[ "$(ip_files)" = 0 ]
}

@test "macvlan: an IPAM plugin that is this very binary runs in a forked child without exec; another file (a copy) is exec'd; same results and errors" {
	local d=$TMP/path-copy
	mkdir -p "$d"
	cp "$BIN/host-local" "$d/host-local" # another inode: exec'd as any other binary
	ln -s "$BIN/macvlan" "$d/macvlan"
	local C bad
	C=$(conf bridge)
	bad=$(conf bridge | jq -c '.ipam.subnet = "10.1.2.3/40"')
	# CNI_PATH's host-local is our multicall binary: no execve of it
	# (LeakSanitizer cannot run under ptrace: off for the traced runs)
	local asan=${ASAN_OPTIONS-}
	export ASAN_OPTIONS=${asan:+$asan:}detect_leaks=0
	CNI_PATH=$BIN strace -f -qq -e trace=execve -o "$TMP/fork.trace" \
		bash -c 'printf "%s" "$1" | CNI_COMMAND=ADD CNI_CONTAINERID=a-$2 CNI_NETNS=$3 CNI_IFNAME=eth0 $4/macvlan' _ "$C" "$TID" "$NSA" "$BIN" > "$TMP/fork.out"
	[ "$(jq -r '.ips[0].address' "$TMP/fork.out")" = "$PFX.2/24" ]
	! grep -q 'execve(".*host-local"' "$TMP/fork.trace" || false
	# a copy: exec'd
	CNI_PATH=$d strace -f -qq -e trace=execve -o "$TMP/exec.trace" \
		bash -c 'printf "%s" "$1" | CNI_COMMAND=ADD CNI_CONTAINERID=b-$2 CNI_NETNS=$3 CNI_IFNAME=eth0 $4/macvlan' _ "$C" "$TID" "$NSB" "$d" > "$TMP/exec.out"
	[ "$(jq -r '.ips[0].address' "$TMP/exec.out")" = "$PFX.3/24" ]
	grep -q "execve(\"$d/host-local\"" "$TMP/exec.trace"
	export ASAN_OPTIONS=$asan
	ip netns exec mva$TID ping -c1 -W2 $PFX.3
	# the delegate's error object comes back unchanged either way
	local p e1 e2
	for p in "$BIN" "$d"; do
		run env CNI_PATH=$p bash -c 'printf "%s" "$1" | CNI_COMMAND=ADD CNI_CONTAINERID=c-$2 CNI_NETNS=$3 CNI_IFNAME=eth1 $4/macvlan' _ "$bad" "$TID" "$NSB" "$p"
		[ "$status" -eq 1 ]
		[ "$p" = "$BIN" ] && e1=$output || e2=$output
	done
	echo "$e1"
	[[ "$(json_get "$e1" .msg)" == *"10.1.2.3/40"* ]]
	[ "$e1" = "$e2" ]
	[ "$(ip -n mvb$TID -o link | grep -c eth1)" = 0 ] # rolled back
	for c in a b; do
		CNI_PATH=$BIN run cni macvlan DEL $([ $c = a ] && echo $NSA || echo $NSB) eth0 "$C" $c-$TID
	done
	[ "$(ip_files)" = 0 ]
}
